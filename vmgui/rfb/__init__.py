"""A Qt-free RFB (VNC) client: the protocol, the decoders and a blocking client for a reader thread."""
from .client import RfbClient, RfbListener, ServerInit
from .framebuffer import Cursor, Framebuffer, Rect
from .protocol import Encoding, PasswordRequired, RfbError
from .session import RfbSession

__all__ = ["Cursor", "Encoding", "Framebuffer", "PasswordRequired", "Rect", "RfbClient", "RfbError", "RfbListener",
           "RfbSession", "ServerInit"]
