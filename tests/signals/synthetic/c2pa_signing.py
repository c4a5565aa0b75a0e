"""Test helper: sign a file with a C2PA manifest using a certificate chain made here.

Why: the fixtures from c2pa-rs are JPEGs only; a video with Content Credentials, and a
signer that IS on a trust list, are made in the test instead. The chain (a CA and an end
entity with the C2PA claim-signing EKU) is generated with `cryptography`, valid for a day,
never written into the repository. No network: no timestamp authority.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
C2PA_CLAIM_SIGNING = x509.ObjectIdentifier("1.3.6.1.4.1.62558.2.1")


@dataclass(frozen=True)
class Chain:
    ca_pem: str
    cert_chain_pem: str  # end entity, then CA
    key_pem: str


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Rempart tests"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        ]
    )


def make_chain() -> Chain:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Rempart Test Root")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    ee = (
        x509.CertificateBuilder()
        .subject_name(_name("Rempart Test Signer"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([C2PA_CLAIM_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return Chain(
        ca_pem=ca.public_bytes(pem).decode(),
        cert_chain_pem=ee.public_bytes(pem).decode() + ca.public_bytes(pem).decode(),
        key_pem=key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    )


def sign(source: Path, dest: Path, mime: str, chain: Chain, source_type: str) -> None:
    """Write `dest`: `source` with a manifest whose c2pa.created action declares the IPTC
    digital source type `source_type` (a term such as trainedAlgorithmicMedia)."""
    import c2pa

    manifest = {
        "claim_generator_info": [{"name": "rempart-tests", "version": "1"}],
        "title": source.name,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": IPTC + source_type,
                            "softwareAgent": "rempart test generator",
                        }
                    ]
                },
            }
        ],
    }
    info = c2pa.C2paSignerInfo(
        b"es256", chain.cert_chain_pem.encode(), chain.key_pem.encode(), None
    )
    signer = c2pa.Signer.from_info(info)
    builder = c2pa.Builder(json.dumps(manifest))
    out = io.BytesIO()
    with source.open("rb") as fh:
        builder.sign(signer, mime, fh, out)
    dest.write_bytes(out.getvalue())
