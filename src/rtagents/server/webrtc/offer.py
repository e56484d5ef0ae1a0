"""Checks on a caller's SDP offer before aiortc sees it, each failure said in words.

aiortc answers many broken offers with a bare ``AssertionError`` or
``AttributeError`` (and a BUNDLE group naming a missing ``a=mid`` breaks it
in a background task), and it accepts an offer without ``a=fingerprint``
although such a call can never connect. So the offer's structure is checked
here first, line by line, and a refusal names the line and what to change.
Pure text work: no aiortc import, so it runs even without the ``[webrtc]`` extra.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# What aiortc can verify a DTLS certificate with (RFC 8122 names).
FINGERPRINT_ALGORITHMS = ("sha-256", "sha-384", "sha-512")
SETUP_ROLES = ("actpass", "active", "passive")
RESEND = "Send pc.localDescription.sdp exactly as createOffer()/setLocalDescription() made it."
_LINE = re.compile(r"^[a-z]=")
_MEDIA_LINE = re.compile(r"^m=(\S+) ([0-9]+)(?:/[0-9]+)? ([A-Z/]+)( \S+)+$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class OfferProblem(ValueError):
    """The offer cannot make a call; the message says which line and what to change."""


@dataclass
class _Section:
    """One ``m=`` section, with the session-level attributes it inherits."""

    kind: str
    line: int
    attributes: dict[str, list[str]] = field(default_factory=dict)

    def values(self, name: str, session: dict[str, list[str]]) -> list[str]:
        return self.attributes.get(name) or session.get(name, [])

    @property
    def title(self) -> str:
        return f"m={self.kind} (line {self.line})"


def check_offer(sdp: str) -> None:
    """Raise :class:`OfferProblem` if ``sdp`` cannot make a call; else return."""
    lines = sdp.lstrip().replace("\r\n", "\n").split("\n")
    _check_text(lines)
    session, sections = _sections(lines)
    if not any(s.kind == "application" for s in sections):
        raise OfferProblem(
            "The SDP offer has no data channel (m=application): create the 'oai-events' "
            "data channel before createOffer(), since the session's events travel on it."
        )
    if not any(s.kind == "audio" for s in sections):
        raise OfferProblem(
            "The SDP offer has no audio section (m=audio): add the microphone track "
            "(pc.addTrack) or an audio transceiver (pc.addTransceiver('audio')) before "
            "createOffer(); a call carries the caller's audio."
        )
    _check_mids(session, sections)
    for section in sections:
        _check_security(section, session)


def _check_text(lines: list[str]) -> None:
    for number, line in enumerate(lines, 1):
        control = _CONTROL.search(line)
        if control is not None:
            raise OfferProblem(
                f"The SDP offer has a control character (U+{ord(control.group()):04X}) on "
                f"line {number}; SDP is plain text. {RESEND}"
            )
    if not lines or not lines[0].startswith("v=0") or not any(x.startswith("m=") for x in lines):
        raise OfferProblem(
            "The body is not an SDP offer (it must start with 'v=0' and have m= sections): "
            "send pc.localDescription.sdp after createOffer()/setLocalDescription()."
        )
    for number, line in enumerate(lines, 1):
        if line and not _LINE.match(line):
            raise OfferProblem(
                f"Line {number} of the SDP offer is not an SDP line ('<letter>=<value>'). {RESEND}"
            )
        if line.startswith("m=") and not _MEDIA_LINE.match(line):
            raise OfferProblem(
                f"Line {number} of the SDP offer is not a valid m= line "
                f"('m=<media> <port> <protocol> <formats>'). {RESEND}"
            )


def _sections(lines: list[str]) -> tuple[dict[str, list[str]], list[_Section]]:
    """Session-level attributes, and each m= section's own."""
    session: dict[str, list[str]] = {}
    sections: list[_Section] = []
    for number, line in enumerate(lines, 1):
        if line.startswith("m="):
            sections.append(_Section(kind=line[2:].split(" ", 1)[0], line=number))
        elif line.startswith("a="):
            name, _, value = line[2:].partition(":")
            target = sections[-1].attributes if sections else session
            target.setdefault(name, []).append(value.strip())
    return session, sections


def _check_mids(session: dict[str, list[str]], sections: list[_Section]) -> None:
    mids: dict[str, _Section] = {}
    for section in sections:
        values = section.attributes.get("mid", [])
        if len(values) != 1 or not values[0]:
            raise OfferProblem(f"{section.title} has no single a=mid. {RESEND}")
        if values[0] in mids:
            raise OfferProblem(f"{section.title} repeats a=mid:{values[0]}. {RESEND}")
        mids[values[0]] = section
    bundles = [g.split()[1:] for g in session.get("group", []) if g.split()[:1] == ["BUNDLE"]]
    if not bundles:
        return
    bundled = [mid for group in bundles for mid in group]
    listed = " ".join(bundled)
    for mid in bundled:
        if mid not in mids:
            raise OfferProblem(
                f"The SDP offer's a=group:BUNDLE lists mid '{mid}', but no m= section has "
                f"a=mid:{mid} (the sections' mids: {' '.join(mids)}). {RESEND}"
            )
    for mid, section in mids.items():
        if mid not in bundled:
            raise OfferProblem(
                f"{section.title} has a=mid:{mid}, which a=group:BUNDLE ({listed}) does not "
                f"list: every section of the call shares one transport. {RESEND}"
            )


def _check_security(section: _Section, session: dict[str, list[str]]) -> None:
    """ICE credentials and a DTLS fingerprint, without which nothing can connect."""
    fingerprints = section.values("fingerprint", session)
    if not fingerprints:
        raise OfferProblem(
            f"The SDP offer has no a=fingerprint for {section.title}: without the DTLS "
            "certificate's fingerprint the call can never connect (the caller cannot be "
            f"authenticated). {RESEND}"
        )
    algorithms = [f.split()[0].lower() if f.split() else "" for f in fingerprints]
    if not any(a in FINGERPRINT_ALGORITHMS for a in algorithms) or any(
        len(f.split()) != 2 for f in fingerprints
    ):
        raise OfferProblem(
            f"The SDP offer's a=fingerprint for {section.title} is not '<algorithm> <hex>' "
            f"with a supported algorithm ({', '.join(FINGERPRINT_ALGORITHMS)}); it has "
            f"{', '.join(repr(a[:20]) for a in algorithms)}. {RESEND}"
        )
    for name in ("ice-ufrag", "ice-pwd"):
        if not any(section.values(name, session)):
            raise OfferProblem(f"The SDP offer has no a={name} for {section.title}. {RESEND}")
    if "end-of-candidates" in section.attributes and not section.attributes.get("candidate"):
        raise OfferProblem(
            f"The SDP offer ends {section.title}'s ICE candidates (a=end-of-candidates) "
            "without listing any, so nothing could connect: send the offer once ICE "
            "gathering has found candidates, or without a=end-of-candidates. "
            f"{RESEND}"
        )
    for role in section.values("setup", session):
        if role not in SETUP_ROLES:
            raise OfferProblem(
                f"The SDP offer's a=setup for {section.title} is {role[:20]!r}; an offer's is "
                f"one of {', '.join(SETUP_ROLES)}. {RESEND}"
            )
