"""WebRTC calls: the calls endpoints, one call's peer connection, its audio, sidebands.

Only :mod:`.endpoints` and :mod:`.sideband` load without aiortc (the optional
``[webrtc]`` extra); :mod:`.call` and :mod:`.call_audio` need it.
"""
