"""DES against published FIPS 46-3 / NIST vectors, and VNC authentication's answers against OpenSSL's DES.

The VNC answers were computed with ``openssl enc -des-ecb -nopad`` keyed by the password with each byte's
bits reversed: an implementation independent of this one.
"""
from __future__ import annotations

import pytest

from vmgui.rfb.des import encrypt_block, vnc_response


@pytest.mark.parametrize(("key", "plain", "cipher"), [
    ("133457799BBCDFF1", "0123456789ABCDEF", "85E813540F0AB405"),  # the worked example of the standard's users
    ("0101010101010101", "8000000000000000", "95F8A5E5DD31D900"),  # NIST SP 800-17, variable plaintext
    ("0101010101010101", "0000000000000001", "166B40B44ABA4BD6"),
    ("8001010101010101", "0000000000000000", "95A8D72813DAA94D"),  # NIST SP 800-17, variable key
    ("0E329232EA6D0D73", "8787878787878787", "0000000000000000"),
])
def test_des_encrypts_the_published_vectors(key: str, plain: str, cipher: str) -> None:
    assert encrypt_block(bytes.fromhex(key), bytes.fromhex(plain)).hex().upper() == cipher


def test_des_ignores_the_parity_bits_of_its_key() -> None:
    assert encrypt_block(bytes.fromhex("0000000000000000"), bytes(8)) == encrypt_block(
        bytes.fromhex("0101010101010101"), bytes(8))


def test_des_takes_only_8_byte_keys_and_blocks() -> None:
    with pytest.raises(ValueError):
        encrypt_block(b"short", bytes(8))
    with pytest.raises(ValueError):
        encrypt_block(bytes(8), bytes(9))


@pytest.mark.parametrize(("password", "challenge", "response"), [
    ("secret12", "000102030405060708090a0b0c0d0e0f", "adcd997f8e16fee575e973f93c2b62b4"),
    ("pw", "ffeeddccbbaa99887766554433221100", "6284e44d7d6a0f2a1650914febb2bfee"),  # zero-padded
])
def test_the_vnc_answer_uses_the_bit_reversed_password_as_key(password: str, challenge: str, response: str) -> None:
    assert vnc_response(password, bytes.fromhex(challenge)).hex() == response


def test_a_vnc_password_longer_than_8_bytes_is_cut_as_servers_cut_it() -> None:
    challenge = bytes(range(16))
    assert vnc_response("secret12-and-more", challenge) == vnc_response("secret12", challenge)
