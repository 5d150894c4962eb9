#!/usr/bin/env bash
# Install everything the test suite needs on a Debian machine, run the static gates
# (tests/gates.sh: lint, types, layers), then every test; fails if either fails.
#   bash tests/run_all.sh [pytest arguments]
# Debian packages: QEMU (real VMs under TCG), Xvfb and Qt's X11 libraries (screenshots),
# libvirt (the bridge's tests), desktop-file-utils and appstream (packaging validators), a private
# session bus and dunst (desktop notifications), osinfo-db (the New VM wizard's OS detection), xorriso
# and udftools (the CD/DVD images its tests make), b3sum (the backup checksums, checked by another program),
# and what pip needs to build libvirt-python. Python packages go into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(
  python3 python3-venv python3-dev gcc pkg-config
  qemu-system-x86 qemu-utils ovmf swtpm swtpm-tools xorriso
  xvfb libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-randr0 libxcb-render-util0
  libxcb-image0 libxcb-xkb1
  libvirt-dev libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
  openssh-server openssh-client netcat-openbsd
  desktop-file-utils appstream
  dbus-daemon dunst
  osinfo-db udftools b3sum
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# The Linux test guest is made from Debian's kernel, busybox and qemu-guest-agent packages,
# fetched with apt-get download at test time: the package lists must know them.
if [ "${#missing[@]}" -gt 0 ] || ! apt-cache show linux-image-amd64 busybox-static qemu-guest-agent >/dev/null 2>&1; then
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
fi
# Debian 13 ships libvirt's storage driver as a package of its own (Debian 12: inside libvirt-daemon)
if apt-cache show libvirt-daemon-driver-storage >/dev/null 2>&1 \
    && ! dpkg-query -W -f='${Status}' libvirt-daemon-driver-storage 2>/dev/null | grep -q "install ok installed"; then
  missing+=(libvirt-daemon-driver-storage)
fi
# Debian 13 ships QEMU's D-Bus display (which keeps its VNC refresh steady) in a package of its own
# (Debian 12: inside qemu-system-common)
if apt-cache show qemu-system-modules-opengl >/dev/null 2>&1 \
    && ! dpkg-query -W -f='${Status}' qemu-system-modules-opengl 2>/dev/null | grep -q "install ok installed"; then
  missing+=(qemu-system-modules-opengl)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing Debian packages: ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  python3 -m venv .venv
fi
echo "== installing vmgui with its test, libvirt and lint extras"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,libvirt,lint]'

gates=0
bash tests/gates.sh .venv/bin/python || gates=$?

echo "== running the test suite"
tests=0
.venv/bin/python -m pytest "$@" || tests=$?
if [ "$gates" -ne 0 ]; then
  echo "== the static gates failed (see above): bash tests/gates.sh" >&2
fi
exit $(( tests != 0 ? tests : gates ))
