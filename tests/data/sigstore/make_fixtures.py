#!/usr/bin/env python3
"""Generate the Sigstore bundle test fixtures in this directory.

TEST-ONLY. Everything here is signed by a private trust root whose private
keys are committed under keys/. Nothing produced by this script must ever be
trusted outside threadlog's tests.

Usage (from the repository root or from this directory):

    pip install 'cryptography>=44' asn1crypto
    python3 tests/data/sigstore/make_fixtures.py

The script reads the fixed keys in keys/ (creating any that are missing,
which only happens on the very first run) and rewrites trusted_root.json,
artifact.txt and every *.sigstore.json. Certificates and all ECDSA
signatures use deterministic signing (RFC 6979) and fixed times, so a
re-run with the same keys produces byte-identical files.

What each fixture must do is described in README.md.
"""

import base64
import copy
import datetime as dt
import hashlib
import json
import os
import struct
import sys

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = os.path.join(HERE, "keys")

# --------------------------------------------------------------------------
# Fixed parameters
# --------------------------------------------------------------------------

UTC = dt.timezone.utc
CA_NOT_BEFORE = dt.datetime(2025, 1, 1, tzinfo=UTC)
CA_NOT_AFTER = dt.datetime(2035, 1, 1, tzinfo=UTC)
TRUST_START = "2025-01-01T00:00:00Z"

OIDC_ISSUER = "https://oidc.plant.example"
EMAIL_IDENTITY = "release@plant.example"
URI_IDENTITY = "https://git.plant.example/mes/line-controller/.ci/release.yml@refs/heads/main"

LOG_HOST = "rekor.plant.example"
LOG_TREE_ID = 4242
LOG_ORIGIN = f"{LOG_HOST} - {LOG_TREE_ID}"
LOG_BASE_URL = "https://rekor.plant.example"
CT_BASE_URL = "https://ctfe.plant.example/plant"
TSA_URL = "https://tsa.plant.example/api/v1/timestamp"

IMAGE_NAME = "registry.plant.example/mes/line-controller"
# Made-up container image digest used as the in-toto subject.
IMAGE_DIGEST = "5b2f0a5e6d4c8a1f9e3b7d2c6a0f4e8b1d5c9a3e7f2b6d0c4a8e1f5b9d3c7a2e"

ARTIFACT = (
    b"# line-controller firmware manifest\n"
    b"product: line-controller\n"
    b"version: 4.2.1\n"
    b"build: 2026-05-12T09:28:11Z\n"
    b"images:\n"
    b"  - name: plc-main.bin\n"
    b"    sha256: 3e1f7c0d9a2b5e8f4c6a1d7b0e9f2c5a8d1b4e7f0a3c6d9e2b5f8a1c4d7e0b3f\n"
    b"  - name: hmi-panel.bin\n"
    b"    sha256: 9c4a7e2d5b8f1a3c6e9d2b5f8a1c4e7d0b3f6a9c2e5d8b1f4a7c0e3d6b9f2a5c\n"
)

OID_SCT_LIST = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
OID_FULCIO_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OID_FULCIO_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")


def t(s):
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def unix(d):
    return int(d.timestamp())


def b64(b):
    return base64.b64encode(b).decode()


def sha256(b):
    return hashlib.sha256(b).digest()


def canon(obj):
    """RFC 8785 canonical JSON for the simple values used here (ASCII
    strings, integers, objects, arrays)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def write(name, data):
    path = os.path.join(HERE, name)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as f:
        f.write(data)


def write_json(name, obj):
    write(name, json.dumps(obj, indent=2) + "\n")


# --------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------

KEY_NAMES = [
    "fulcio-root", "fulcio-intermediate", "rekor", "ctlog", "tsa-root", "tsa",
    "leaf-email", "leaf-uri", "ci-signer", "ci-other",
    "rogue-root", "rogue-intermediate", "rogue-leaf",
]


def load_keys():
    os.makedirs(KEYS, exist_ok=True)
    keys = {}
    for name in KEY_NAMES:
        path = os.path.join(KEYS, f"{name}.key.pem")
        if not os.path.exists(path):
            key = ec.generate_private_key(ec.SECP256R1())
            with open(path, "wb") as f:
                f.write(key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption()))
        with open(path, "rb") as f:
            keys[name] = serialization.load_pem_private_key(f.read(), None)
    return keys


def spki_der(key):
    pub = key.public_key() if hasattr(key, "public_key") else key
    return pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def spki_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def sign(key, data):
    """Deterministic (RFC 6979) ECDSA P-256/SHA-256, DER signature."""
    return key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))


def sign_prehashed(key, digest):
    return key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()), deterministic_signing=True))


def cert_pem(der):
    """PEM exactly as x509-cert's encoder writes it: 64-column lines, LF."""
    body = base64.b64encode(der).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return ("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines)
            + "\n-----END CERTIFICATE-----\n").encode()


# --------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------

def name(org, cn):
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def ca_cert(subject, key, issuer, issuer_key, serial, path_len, eku=None):
    b = (x509.CertificateBuilder()
         .subject_name(subject).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(serial)
         .not_valid_before(CA_NOT_BEFORE).not_valid_after(CA_NOT_AFTER)
         .add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
         .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                        critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer_key is not key:
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False)
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return b.sign(issuer_key, hashes.SHA256(), ecdsa_deterministic=True)


def tsa_leaf_cert(key, issuer, issuer_key, serial):
    b = (x509.CertificateBuilder()
         .subject_name(name("Plant Example TEST", "plant-tsa-leaf"))
         .issuer_name(issuer.subject)
         .public_key(key.public_key()).serial_number(serial)
         .not_valid_before(CA_NOT_BEFORE).not_valid_after(CA_NOT_AFTER)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                        critical=True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                        critical=False))
    return b.sign(issuer_key, hashes.SHA256(), ecdsa_deterministic=True)


def tls_u16(b):
    return struct.pack(">H", len(b)) + b


def tls_u24(b):
    return struct.pack(">I", len(b))[1:] + b


def der_octet_string(b):
    return core.OctetString(b).dump()


def make_sct(ct_key, issuer_cert, precert_tbs, ts_ms):
    """RFC 6962 v1 SCT over a precert entry. issuer_key_hash is SHA-256 of
    the issuer's SubjectPublicKeyInfo DER; the TBS is the leaf's
    TBSCertificate without the SCT list extension."""
    log_id = sha256(spki_der(ct_key))
    issuer_key_hash = sha256(spki_der(issuer_cert.public_key()))
    signed = (bytes([0, 0])                      # version v1, certificate_timestamp
              + struct.pack(">Q", ts_ms)
              + struct.pack(">H", 1)             # precert_entry
              + issuer_key_hash + tls_u24(precert_tbs)
              + tls_u16(b""))                    # no CT extensions
    sig = sign(ct_key, signed)
    sct = (bytes([0]) + log_id + struct.pack(">Q", ts_ms) + tls_u16(b"")
           + bytes([4, 3])                        # sha256, ecdsa
           + tls_u16(sig))
    return tls_u16(tls_u16(sct))                  # SignedCertificateTimestampList


def leaf_cert(key, issuer_cert, issuer_key, ct_key, serial, not_before, san):
    not_after = not_before + dt.timedelta(minutes=10)
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([]))
         .issuer_name(issuer_cert.subject)
         .public_key(key.public_key()).serial_number(serial)
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                        critical=True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                        critical=False)
         .add_extension(x509.SubjectAlternativeName([san]), critical=True)
         .add_extension(x509.UnrecognizedExtension(OID_FULCIO_ISSUER_V1, OIDC_ISSUER.encode()),
                        critical=False)
         .add_extension(x509.UnrecognizedExtension(
             OID_FULCIO_ISSUER_V2, core.UTF8String(OIDC_ISSUER).dump()), critical=False))
    precert = b.sign(issuer_key, hashes.SHA256(), ecdsa_deterministic=True)
    precert_tbs = precert.tbs_certificate_bytes
    sct_list = make_sct(ct_key, issuer_cert, precert_tbs, unix(not_before) * 1000 + 250)
    final = b.add_extension(x509.UnrecognizedExtension(OID_SCT_LIST, der_octet_string(sct_list)),
                            critical=False).sign(issuer_key, hashes.SHA256(), ecdsa_deterministic=True)
    # The precert TBS must be the final TBS minus the SCT extension, byte for byte.
    tbs = ax509.TbsCertificate.load(final.tbs_certificate_bytes)
    exts = [e for e in tbs["extensions"] if e["extn_id"].dotted != OID_SCT_LIST.dotted_string]
    stripped = tbs.copy()
    stripped["extensions"] = ax509.Extensions(exts)
    assert stripped.dump(force=True) == precert_tbs, "precert TBS reconstruction mismatch"
    return final


# --------------------------------------------------------------------------
# RFC 3161
# --------------------------------------------------------------------------

def timestamp_response(tsa_key, tsa_cert, imprint_input, gen_time, serial):
    """DER TimeStampResp (status granted + TimeStampToken), which is what a
    bundle's signedTimestamp holds per the Sigstore protobuf spec (and what
    sigstore-python and sigstore-go parse). The message imprint is SHA-256
    of imprint_input."""
    tst = tsp.TSTInfo({
        "version": 1,
        "policy": "1.3.6.1.4.1.57264.2",
        "message_imprint": {
            "hash_algorithm": {"algorithm": "sha256"},
            "hashed_message": sha256(imprint_input),
        },
        "serial_number": serial,
        "gen_time": gen_time,
        "accuracy": {"seconds": 1},
        "ordering": False,
        "nonce": serial * 7919 + 17,
    })
    tst_der = tst.dump()
    tsa_der = tsa_cert.public_bytes(serialization.Encoding.DER)
    acert = ax509.Certificate.load(tsa_der)
    signed_attrs = cms.CMSAttributes([
        {"type": "content_type", "values": ["tst_info"]},
        {"type": "signing_time", "values": [cms.Time({"utc_time": gen_time})]},
        {"type": "message_digest", "values": [sha256(tst_der)]},
        {"type": "signing_certificate_v2", "values": [{
            "certs": [{"hash_algorithm": {"algorithm": "sha256"}, "cert_hash": sha256(tsa_der)}],
        }]},
    ])
    signature = sign(tsa_key, signed_attrs.dump())
    signer = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
            "issuer": acert.issuer, "serial_number": acert.serial_number}}),
        "digest_algorithm": {"algorithm": "sha256"},
        "signed_attrs": signed_attrs,
        "signature_algorithm": {"algorithm": "sha256_ecdsa"},
        "signature": signature,
    })
    sd = cms.SignedData({
        "version": "v3",
        "digest_algorithms": [{"algorithm": "sha256"}],
        "encap_content_info": {"content_type": "tst_info",
                               "content": core.ParsableOctetString(tst_der)},
        "certificates": [acert],
        "signer_infos": [signer],
    })
    token = cms.ContentInfo({"content_type": "signed_data", "content": sd})
    return tsp.TimeStampResp({"status": {"status": "granted"},
                              "time_stamp_token": token}).dump()


# --------------------------------------------------------------------------
# Transparency log
# --------------------------------------------------------------------------

def leaf_hash(body):
    return sha256(b"\x00" + body)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def mth(hashes_):
    n = len(hashes_)
    if n == 1:
        return hashes_[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(hashes_[:k]), mth(hashes_[k:]))


def inclusion_path(index, hashes_):
    """RFC 9162 section 2.1.3.1 audit path, leaf to root."""
    n = len(hashes_)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if index < k:
        return inclusion_path(index, hashes_[:k]) + [mth(hashes_[k:])]
    return inclusion_path(index - k, hashes_[k:]) + [mth(hashes_[:k])]


def verify_inclusion(index, size, leaf, path, root):
    """RFC 9162 section 2.1.3.2 verification (used as a self-check)."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def checkpoint(log_key, size, root):
    note = f"{LOG_ORIGIN}\n{size}\n{b64(root)}\n".encode()
    hint = sha256(spki_der(log_key))[:4]
    sig = sign(log_key, note)
    return note.decode() + "\n" + f"\u2014 {LOG_HOST} {b64(hint + sig)}\n"


def set_payload(body, integrated_time, log_id_hex, log_index):
    return canon({"body": b64(body), "integratedTime": integrated_time,
                  "logID": log_id_hex, "logIndex": log_index})


# --------------------------------------------------------------------------
# Bundle content
# --------------------------------------------------------------------------

def hashedrekord_body(signature, verifier_pem, digest):
    return canon({
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
            "signature": {"content": b64(signature), "publicKey": {"content": b64(verifier_pem)}},
        },
    })


def envelope_json(payload, payload_type, sig):
    # The envelope as protobuf-JSON serializes it (empty keyid omitted),
    # keys already in sorted order: this is what envelopeHash covers.
    return canon({"payload": b64(payload), "payloadType": payload_type,
                  "signatures": [{"sig": b64(sig)}]})


def dsse_body(payload, payload_type, sig, verifier_pem):
    return canon({
        "apiVersion": "0.0.1", "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256",
                             "value": sha256(envelope_json(payload, payload_type, sig)).hex()},
            "payloadHash": {"algorithm": "sha256", "value": sha256(payload).hex()},
            "signatures": [{"signature": b64(sig), "verifier": b64(verifier_pem)}],
        },
    })


def pae(payload_type, payload):
    return b"DSSEv1 %d %s %d " % (len(payload_type), payload_type.encode(), len(payload)) + payload


def provenance_statement():
    st = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": IMAGE_NAME, "digest": {"sha256": IMAGE_DIGEST}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://git.plant.example/ci/build-types/container@v1",
                "externalParameters": {
                    "repository": "https://git.plant.example/mes/line-controller",
                    "ref": "refs/heads/main",
                    "workflow": ".ci/release.yml",
                },
                "internalParameters": {},
                "resolvedDependencies": [{
                    "uri": "git+https://git.plant.example/mes/line-controller@refs/heads/main",
                    "digest": {"gitCommit": "8f14e45fceea167a5a36dedd4bea2543b1c0a7d2"},
                }],
            },
            "runDetails": {
                "builder": {"id": "https://git.plant.example/ci/runners/plant-builder@v2"},
                "metadata": {"invocationId": "https://git.plant.example/mes/line-controller/-/pipelines/1187",
                             "startedOn": "2026-05-12T09:25:03Z",
                             "finishedOn": "2026-05-12T09:39:41Z"},
            },
        },
    }
    return json.dumps(st, separators=(",", ":")).encode()


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

MT_V01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"
MT_V02 = "application/vnd.dev.sigstore.bundle+json;version=0.2"
MT_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
INTOTO = "application/vnd.in-toto+json"


def main():
    k = load_keys()

    # ---- trust root material
    root_cert = ca_cert(name("Plant Example TEST", "plant-fulcio-root"), k["fulcio-root"],
                        name("Plant Example TEST", "plant-fulcio-root"), k["fulcio-root"], 0x1001, 1)
    inter_cert = ca_cert(name("Plant Example TEST", "plant-fulcio-intermediate"),
                         k["fulcio-intermediate"], root_cert.subject, k["fulcio-root"], 0x1002, 0,
                         eku=[ExtendedKeyUsageOID.CODE_SIGNING])
    tsa_root = ca_cert(name("Plant Example TEST", "plant-tsa-root"), k["tsa-root"],
                       name("Plant Example TEST", "plant-tsa-root"), k["tsa-root"], 0x2001, 0)
    tsa_cert = tsa_leaf_cert(k["tsa"], tsa_root, k["tsa-root"], 0x2002)
    rogue_root = ca_cert(name("Rogue Example TEST", "rogue-root"), k["rogue-root"],
                         name("Rogue Example TEST", "rogue-root"), k["rogue-root"], 0x3001, 1)
    rogue_inter = ca_cert(name("Rogue Example TEST", "rogue-intermediate"), k["rogue-intermediate"],
                          rogue_root.subject, k["rogue-root"], 0x3002, 0,
                          eku=[ExtendedKeyUsageOID.CODE_SIGNING])

    der = lambda c: c.public_bytes(serialization.Encoding.DER)
    rekor_spki = spki_der(k["rekor"])
    log_id = sha256(rekor_spki)
    ct_spki = spki_der(k["ctlog"])

    trusted_root = {
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{
            "baseUrl": LOG_BASE_URL,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": b64(rekor_spki), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                          "validFor": {"start": TRUST_START}},
            "logId": {"keyId": b64(log_id)},
        }],
        "certificateAuthorities": [{
            "subject": {"organization": "Plant Example TEST", "commonName": "plant-fulcio"},
            "uri": "https://fulcio.plant.example",
            "certChain": {"certificates": [{"rawBytes": b64(der(inter_cert))},
                                           {"rawBytes": b64(der(root_cert))}]},
            "validFor": {"start": TRUST_START},
        }],
        "ctlogs": [{
            "baseUrl": CT_BASE_URL,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": b64(ct_spki), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                          "validFor": {"start": TRUST_START}},
            "logId": {"keyId": b64(sha256(ct_spki))},
        }],
        "timestampAuthorities": [{
            "subject": {"organization": "Plant Example TEST", "commonName": "plant-tsa"},
            "uri": TSA_URL,
            "certChain": {"certificates": [{"rawBytes": b64(der(tsa_cert))},
                                           {"rawBytes": b64(der(tsa_root))}]},
            "validFor": {"start": TRUST_START},
        }],
    }
    write_json("trusted_root.json", trusted_root)
    write("artifact.txt", ARTIFACT)
    with open(os.path.join(KEYS, "ci-signer.pub.pem"), "wb") as f:
        f.write(spki_pem(k["ci-signer"]))
    with open(os.path.join(KEYS, "ci-other.pub.pem"), "wb") as f:
        f.write(spki_pem(k["ci-other"]))

    # ---- signing certificates (10 minutes each)
    email_nb = t("2026-05-12T09:30:00Z")
    uri_nb = t("2026-05-12T09:40:00Z")
    rogue_nb = t("2026-05-12T09:50:00Z")
    email_cert = leaf_cert(k["leaf-email"], inter_cert, k["fulcio-intermediate"], k["ctlog"],
                           0x51A7E0001, email_nb, x509.RFC822Name(EMAIL_IDENTITY))
    uri_cert = leaf_cert(k["leaf-uri"], inter_cert, k["fulcio-intermediate"], k["ctlog"],
                         0x51A7E0002, uri_nb, x509.UniformResourceIdentifier(URI_IDENTITY))
    rogue_cert = leaf_cert(k["rogue-leaf"], rogue_inter, k["rogue-intermediate"], k["ctlog"],
                           0x51A7E0003, rogue_nb, x509.RFC822Name(EMAIL_IDENTITY))
    email_pem, uri_pem, rogue_pem = (cert_pem(der(c)) for c in (email_cert, uri_cert, rogue_cert))
    for fname, c in (("leaf-email.crt.pem", email_cert), ("leaf-uri.crt.pem", uri_cert),
                     ("rogue-leaf.crt.pem", rogue_cert)):
        with open(os.path.join(KEYS, fname), "wb") as f:
            f.write(cert_pem(der(c)))

    digest = sha256(ARTIFACT)
    payload = provenance_statement()

    # ---- signatures
    sig_email = sign_prehashed(k["leaf-email"], digest)
    sig_rogue = sign_prehashed(k["rogue-leaf"], digest)
    sig_ci = sign_prehashed(k["ci-signer"], digest)
    sig_other = sign_prehashed(k["ci-other"], digest)
    dsse_sig_email = sign(k["leaf-email"], pae(INTOTO, payload))
    dsse_sig_uri = sign(k["leaf-uri"], pae(INTOTO, payload))
    # A second, equally valid ECDSA signature over the same digest: (r, n - s).
    r, s = decode_dss_signature(sig_email)
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    sig_email_alt = encode_dss_signature(r, n - s)
    k["leaf-email"].public_key().verify(sig_email_alt, digest, ec.ECDSA(Prehashed(hashes.SHA256())))

    ci_pem = spki_pem(k["ci-signer"])
    other_pem = spki_pem(k["ci-other"])

    # ---- log entries: (key, kind, body, integratedTime)
    entries = [
        ("v01", "hashedrekord", hashedrekord_body(sig_email, email_pem, digest), unix(email_nb) + 41),
        ("v02", "dsse", dsse_body(payload, INTOTO, dsse_sig_email, email_pem), unix(email_nb) + 95),
        ("v03msg", "hashedrekord", hashedrekord_body(sig_email, email_pem, digest), unix(email_nb) + 152),
        ("alt", "hashedrekord", hashedrekord_body(sig_email_alt, email_pem, digest), unix(email_nb) + 208),
        ("v03dsse", "dsse", dsse_body(payload, INTOTO, dsse_sig_uri, uri_pem), unix(uri_nb) + 63),
        ("pk", "hashedrekord", hashedrekord_body(sig_ci, ci_pem, digest), unix(uri_nb) + 301),
        ("pkother", "hashedrekord", hashedrekord_body(sig_other, other_pem, digest), unix(uri_nb) + 340),
        ("rogue", "hashedrekord", hashedrekord_body(sig_rogue, rogue_pem, digest), unix(rogue_nb) + 37),
        ("expired", "hashedrekord", hashedrekord_body(sig_email, email_pem, digest),
         unix(email_nb + dt.timedelta(minutes=10)) + 3600),
    ]
    # Interleave unrelated entries so that no bundle sits at index 0 and the
    # tree size is not a power of two.
    leaves = []
    index_of = {}
    filler_no = 0

    def filler():
        nonlocal filler_no
        d = sha256(b"unrelated artifact %d" % filler_no)
        filler_no += 1
        return hashedrekord_body(sign_prehashed(k["ci-other"], d), other_pem, d)

    leaves += [filler(), filler(), filler()]
    for key, kind, body, it in entries:
        index_of[key] = len(leaves)
        leaves.append(body)
        leaves.append(filler())
    leaf_hashes = [leaf_hash(b) for b in leaves]
    size = len(leaves)
    root = mth(leaf_hashes)
    cp = checkpoint(k["rekor"], size, root)

    def tlog_entry(key, with_checkpoint=True, with_set=True):
        kind, body, it = next((e[1], e[2], e[3]) for e in entries if e[0] == key)
        idx = index_of[key]
        path = inclusion_path(idx, leaf_hashes)
        assert verify_inclusion(idx, size, leaf_hashes[idx], path, root)
        proof = {"logIndex": str(idx), "rootHash": b64(root), "treeSize": str(size),
                 "hashes": [b64(h) for h in path]}
        if with_checkpoint:
            proof["checkpoint"] = {"envelope": cp}
        e = {"logIndex": str(idx), "logId": {"keyId": b64(log_id)},
             "kindVersion": {"kind": kind, "version": "0.0.1"},
             "integratedTime": str(it)}
        if with_set:
            e["inclusionPromise"] = {"signedEntryTimestamp": b64(
                sign(k["rekor"], set_payload(body, it, log_id.hex(), idx)))}
        e["inclusionProof"] = proof
        e["canonicalizedBody"] = b64(body)
        return e

    def integrated(key):
        return next(e[3] for e in entries if e[0] == key)

    def tsa_time(key):
        return dt.datetime.fromtimestamp(integrated(key) - 2, UTC)

    def message_sig(signature):
        return {"messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)},
                "signature": b64(signature)}

    def dsse_env(signature, pl=payload):
        return {"payload": b64(pl), "payloadType": INTOTO, "signatures": [{"sig": b64(signature)}]}

    def rfc3161(signature, when, serial, imprint_input=None):
        tok = timestamp_response(k["tsa"], tsa_cert,
                              signature if imprint_input is None else imprint_input, when, serial)
        return {"rfc3161Timestamps": [{"signedTimestamp": b64(tok)}]}

    bundles = {}

    bundles["v0.1-message"] = {
        "mediaType": MT_V01,
        "verificationMaterial": {
            "x509CertificateChain": {"certificates": [{"rawBytes": b64(der(email_cert))}]},
            "tlogEntries": [tlog_entry("v01", with_checkpoint=False)],
        },
        "messageSignature": message_sig(sig_email),
    }
    bundles["v0.2-dsse"] = {
        "mediaType": MT_V02,
        "verificationMaterial": {
            "x509CertificateChain": {"certificates": [{"rawBytes": b64(der(email_cert))}]},
            "tlogEntries": [tlog_entry("v02")],
        },
        "dsseEnvelope": dsse_env(dsse_sig_email),
    }
    bundles["v0.3-message"] = {
        "mediaType": MT_V03,
        "verificationMaterial": {
            "certificate": {"rawBytes": b64(der(email_cert))},
            "tlogEntries": [tlog_entry("v03msg")],
            "timestampVerificationData": rfc3161(sig_email, tsa_time("v03msg"), 0x7001),
        },
        "messageSignature": message_sig(sig_email),
    }
    bundles["v0.3-dsse-uri-identity"] = {
        "mediaType": MT_V03,
        "verificationMaterial": {
            "certificate": {"rawBytes": b64(der(uri_cert))},
            "tlogEntries": [tlog_entry("v03dsse", with_set=False)],
            "timestampVerificationData": rfc3161(dsse_sig_uri, tsa_time("v03dsse"), 0x7002),
        },
        "dsseEnvelope": dsse_env(dsse_sig_uri),
    }
    bundles["v0.3-publickey"] = {
        "mediaType": MT_V03,
        "verificationMaterial": {
            "publicKey": {"hint": "ci-signer"},
            "tlogEntries": [tlog_entry("pk")],
        },
        "messageSignature": message_sig(sig_ci),
    }

    # ---- negative cases: each differs from a valid bundle in one way
    def flip(b64s, pos=10):
        raw = bytearray(base64.b64decode(b64s))
        raw[pos] ^= 0x01
        return b64(bytes(raw))

    base = bundles["v0.3-message"]

    b = copy.deepcopy(base)
    proof = b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    proof["hashes"][1] = flip(proof["hashes"][1])
    bundles["bad-proof-hash"] = b

    b = copy.deepcopy(base)
    proof = b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    proof["rootHash"] = flip(proof["rootHash"])
    bundles["bad-proof-root"] = b

    b = copy.deepcopy(base)
    proof = b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    note, sigline = cp.split("\n\n")
    prefix, sig_b64 = sigline.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(sig_b64))
    raw[-5] ^= 0x01   # inside the ECDSA signature, past the 4-byte key hint
    proof["checkpoint"]["envelope"] = f"{note}\n\n{prefix} {b64(bytes(raw))}\n"
    bundles["bad-checkpoint-signature"] = b

    b = copy.deepcopy(base)
    proof = b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    other_root = mth(leaf_hashes[:-1] + [leaf_hash(b"a different last entry")])
    proof["checkpoint"]["envelope"] = checkpoint(k["rekor"], size, other_root)
    bundles["bad-checkpoint-root"] = b

    b = copy.deepcopy(base)
    te = b["verificationMaterial"]["tlogEntries"][0]
    body = base64.b64decode(te["canonicalizedBody"])
    te["inclusionPromise"]["signedEntryTimestamp"] = b64(sign(
        k["rekor"], set_payload(body, int(te["integratedTime"]) + 1, log_id.hex(), int(te["logIndex"]))))
    bundles["bad-set"] = b

    # Based on the bundle without a SET, so that the timestamp is the only
    # source of signing time: a verifier that skips a bad timestamp and falls
    # back to the SET's integratedTime must still reject it. The token is
    # validly signed by the TSA, but its imprint covers another signature.
    b = copy.deepcopy(bundles["v0.3-dsse-uri-identity"])
    b["verificationMaterial"]["timestampVerificationData"] = rfc3161(
        dsse_sig_uri, tsa_time("v03dsse"), 0x7003, imprint_input=dsse_sig_email)
    bundles["bad-rfc3161"] = b

    b = copy.deepcopy(bundles["v0.3-dsse-uri-identity"])
    tampered = payload.replace(IMAGE_DIGEST.encode(), IMAGE_DIGEST[::-1].encode())
    assert tampered != payload
    b["dsseEnvelope"]["payload"] = b64(tampered)
    bundles["bad-tampered-payload"] = b

    b = copy.deepcopy(base)
    alt = tlog_entry("alt")
    b["verificationMaterial"]["tlogEntries"] = [alt]
    bundles["bad-body-mismatch"] = b

    b = copy.deepcopy(base)
    b["verificationMaterial"]["tlogEntries"] = [tlog_entry("expired")]
    b["verificationMaterial"]["timestampVerificationData"] = rfc3161(
        sig_email, tsa_time("expired"), 0x7004)
    bundles["bad-expired-cert"] = b

    b = copy.deepcopy(base)
    b["verificationMaterial"]["certificate"] = {"rawBytes": b64(der(rogue_cert))}
    b["verificationMaterial"]["tlogEntries"] = [tlog_entry("rogue")]
    b["verificationMaterial"]["timestampVerificationData"] = rfc3161(
        sig_rogue, tsa_time("rogue"), 0x7005)
    b["messageSignature"] = message_sig(sig_rogue)
    bundles["bad-untrusted-ca"] = b

    b = copy.deepcopy(bundles["v0.3-publickey"])
    b["verificationMaterial"]["tlogEntries"] = [tlog_entry("pkother")]
    b["messageSignature"] = message_sig(sig_other)
    bundles["bad-publickey-wrong-key"] = b

    for fname, bundle in bundles.items():
        write_json(f"{fname}.sigstore.json", bundle)

    summary = {
        "artifact_sha256": digest.hex(),
        "log_id_hex": log_id.hex(),
        "log_origin": LOG_ORIGIN,
        "checkpoint_key_hint_hex": log_id[:4].hex(),
        "tree_size": size,
        "root_hash_hex": root.hex(),
        "indices": {key: index_of[key] for key, *_ in entries},
        "ct_log_id_hex": sha256(ct_spki).hex(),
    }
    json.dump(summary, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
