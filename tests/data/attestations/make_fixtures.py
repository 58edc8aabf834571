#!/usr/bin/env python3
"""Makes the DSSE attestation fixtures of tests/attestations.rs with securesystemslib.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install 'securesystemslib[crypto]==1.6.0'
    /tmp/venv/bin/python tests/data/attestations/make_fixtures.py

Every run makes new keys, so every fixture, public key and policy.toml is rewritten
together. Private keys are never written. See README.md for what each file is.
"""

import base64
import copy
import json
import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner, Signature

HERE = os.path.dirname(os.path.abspath(__file__))
INTOTO = "application/vnd.in-toto+json"

IMAGE = "registry.plant.example/firmware/print-controller"
IMAGE_DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
TOOL = "plant-tools-2.1.0.tar.gz"
TOOL_DIGEST = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"


def pem(signer):
    return (
        signer._private_key.public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )


def statement(version, predicate_type, predicate, subjects=None):
    if subjects is None:
        subjects = [{"name": IMAGE, "digest": {"sha256": IMAGE_DIGEST}}]
    return {
        "_type": f"https://in-toto.io/Statement/{version}",
        "subject": subjects,
        "predicateType": predicate_type,
        "predicate": predicate,
    }


SLSA = {
    "buildDefinition": {
        "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
        "externalParameters": {
            "workflow": {
                "ref": "refs/tags/v2.1.0",
                "repository": "https://git.plant.example/firmware/print-controller",
                "path": ".github/workflows/release.yml",
            }
        },
        "resolvedDependencies": [
            {
                "uri": "git+https://git.plant.example/firmware/print-controller@refs/tags/v2.1.0",
                "digest": {"gitCommit": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"},
            }
        ],
    },
    "runDetails": {
        "builder": {"id": "https://git.plant.example/runners/release@v3"},
        "metadata": {
            "invocationId": "release-2026-11-30-1",
            "startedOn": "2026-11-30T10:00:00Z",
            "finishedOn": "2026-11-30T10:09:41Z",
        },
    },
}

CYCLONEDX = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.5",
    "version": 1,
    "components": [
        {"type": "library", "name": "requests", "version": "2.32.3",
         "purl": "pkg:pypi/requests@2.32.3"}
    ],
}

SPDX = {
    "spdxVersion": "SPDX-2.3",
    "dataLicense": "CC0-1.0",
    "SPDXID": "SPDXRef-DOCUMENT",
    "name": TOOL,
    "documentNamespace": "https://plant.example/spdx/plant-tools-2.1.0",
    "creationInfo": {"created": "2026-11-30T10:00:00Z", "creators": ["Tool: syft-1.18.0"]},
    "packages": [],
}

VULN = {
    "invocation": {"uri": "https://git.plant.example/ci/scan/771", "event_id": "771",
                   "builder.id": "grype"},
    "scanner": {
        "uri": "pkg:github/anchore/grype@0.86.1",
        "version": "0.86.1",
        "db": {"uri": "https://toolbox-data.anchore.io/grype/databases", "version": "v5"},
        "result": {"matches": []},
    },
    "metadata": {"scanStartedOn": "2026-11-30T10:10:00Z",
                 "scanFinishedOn": "2026-11-30T10:10:07Z"},
}


def envelope(stmt, signers, payload_type=INTOTO):
    payload = json.dumps(stmt, indent=None, separators=(",", ":")).encode()
    env = Envelope(payload=payload, payload_type=payload_type, signatures={})
    for s in signers:
        env.sign(s)
    return env.to_dict()


def raw_ecdsa_envelope(stmt, signer):
    """ECDSA P-256 with the signature as the 64-byte r||s (as AWS KMS-backed and some
    Go signers emit it) instead of ASN.1 DER."""
    payload = json.dumps(stmt, separators=(",", ":")).encode()
    env = Envelope(payload=payload, payload_type=INTOTO, signatures={})
    der = signer._private_key.sign(env.pae(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    env.signatures[signer.public_key.keyid] = Signature(signer.public_key.keyid, raw.hex())
    return env.to_dict()


def rsa_pss_max_salt_envelope(stmt, signer):
    """RSA-PSS with the longest salt the key allows: Go's rsa.SignPSS and OpenSSL's
    default, where securesystemslib uses a salt as long as the hash."""
    from cryptography.hazmat.primitives.asymmetric import padding

    payload = json.dumps(stmt, separators=(",", ":")).encode()
    env = Envelope(payload=payload, payload_type=INTOTO, signatures={})
    sig = signer._private_key.sign(
        env.pae(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH),
        hashes.SHA256(),
    )
    env.signatures[signer.public_key.keyid] = Signature(signer.public_key.keyid, sig.hex())
    return env.to_dict()


def write(name, doc):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def main():
    ed = CryptoSigner.generate_ed25519()
    p256 = CryptoSigner.generate_ecdsa()
    pss = CryptoSigner.generate_rsa(scheme="rsassa-pss-sha256", size=3072)
    pkcs1 = CryptoSigner.generate_rsa(scheme="rsa-pkcs1v15-sha256", size=2048)
    stranger = CryptoSigner.generate_ed25519()
    signers = {"ed25519": ed, "ecdsa-p256": p256, "rsa-pss": pss, "rsa-pkcs1v15": pkcs1,
               "stranger": stranger}
    os.makedirs(os.path.join(HERE, "keys"), exist_ok=True)
    for name, s in signers.items():
        with open(os.path.join(HERE, "keys", f"{name}.pub.pem"), "w") as f:
            f.write(pem(s))
    ids = {name: s.public_key.keyid for name, s in signers.items()}
    with open(os.path.join(HERE, "keyids.json"), "w") as f:
        json.dump(ids, f, indent=2)
        f.write("\n")

    # Accepted.
    write("ed25519-slsa-v1.dsse.json",
          envelope(statement("v1", "https://slsa.dev/provenance/v1", SLSA), [ed]))
    write("ecdsa-der-cyclonedx-v0.1.dsse.json",
          envelope(statement("v0.1", "https://cyclonedx.org/bom", CYCLONEDX), [p256]))
    write("ecdsa-raw-spdx-v1.dsse.json", raw_ecdsa_envelope(
        statement("v1", "https://spdx.dev/Document",
                  SPDX, [{"name": TOOL, "digest": {"sha256": TOOL_DIGEST}}]), p256))
    write("rsa-pss-vuln-v1.dsse.json",
          envelope(statement("v1", "https://cosign.sigstore.dev/attestation/vuln/v1", VULN),
                   [pss]))
    write("rsa-pkcs1v15-slsa-v1.dsse.json", envelope(
        statement("v1", "https://slsa.dev/provenance/v1", SLSA,
                  [{"name": TOOL, "digest": {"sha256": TOOL_DIGEST, "sha512": "00" * 64}}]),
        [pkcs1]))
    write("rsa-pss-max-salt-vuln-v1.dsse.json", rsa_pss_max_salt_envelope(
        statement("v1", "https://cosign.sigstore.dev/attestation/vuln/v1", VULN,
                  [{"name": TOOL, "digest": {"sha256": TOOL_DIGEST}}]), pss))
    # Two signatures: one from a key the policy does not know, one from the release key.
    write("two-signers-one-unknown.dsse.json", envelope(
        statement("v1", "https://slsa.dev/provenance/v1", SLSA,
                  [{"name": IMAGE + ":2.1.1", "digest": {"sha256": "ab" * 32}}]),
        [stranger, ed]))
    # A signature without keyid: every policy key is tried.
    no_keyid = envelope(statement("v1", "https://cyclonedx.org/bom", CYCLONEDX,
                                  [{"name": "sbom-only", "digest": {"sha256": "cd" * 32}}]),
                        [p256])
    no_keyid["signatures"][0]["keyid"] = ""
    write("no-keyid.dsse.json", no_keyid)

    # Refused.
    good = envelope(statement("v1", "https://slsa.dev/provenance/v1", SLSA,
                              [{"name": "tampered", "digest": {"sha256": "ef" * 32}}]), [ed])
    tampered = copy.deepcopy(good)
    payload = bytearray(base64.b64decode(tampered["payload"]))
    payload[payload.index(b"ef")] = ord("f")  # one byte of a subject digest
    tampered["payload"] = base64.b64encode(bytes(payload)).decode()
    write("bad-tampered-payload.dsse.json", tampered)
    badsig = copy.deepcopy(good)
    sig = bytearray(base64.b64decode(badsig["signatures"][0]["sig"]))
    sig[10] ^= 0x01
    badsig["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    write("bad-tampered-signature.dsse.json", badsig)
    write("bad-unknown-signer.dsse.json",
          envelope(statement("v1", "https://slsa.dev/provenance/v1", SLSA), [stranger]))
    write("bad-predicate-not-accepted.dsse.json",
          envelope(statement("v1", "https://example.com/custom-predicate/v1", {"x": 1}), [ed]))
    write("bad-payload-type.dsse.json",
          envelope(statement("v1", "https://slsa.dev/provenance/v1", SLSA), [ed],
                   payload_type="application/json"))
    write("bad-no-sha256-subject.dsse.json", envelope(
        statement("v1", "https://slsa.dev/provenance/v1", SLSA,
                  [{"name": "only-sha512", "digest": {"sha512": "12" * 64}}]), [ed]))
    # Signed by an allowed key, but the policy's rule for release images wants another.
    write("bad-rule-signer.dsse.json",
          envelope(statement("v1", "https://slsa.dev/provenance/v1", SLSA), [pkcs1]))
    with open(os.path.join(HERE, "bad-malformed.dsse.json"), "w") as f:
        f.write(json.dumps(good)[:-40])

    # The policy the tests load: these keys, the usual predicate types, one subject rule.
    def key(name, label):
        return (f'[[signers]]\nid = "{ids[name]}"\nname = "{label}"\n'
                f'public_key = """\n{pem(signers[name])}"""\n')
    policy = (
        "# Made by make_fixtures.py for tests/attestations.rs; do not edit.\n"
        "version = 1\n\n"
        + key("ed25519", "release pipeline (Ed25519)") + "\n"
        + key("ecdsa-p256", "SBOM job (ECDSA P-256)") + "\n"
        + key("rsa-pss", "vulnerability scanner (RSA-PSS)") + "\n"
        + key("rsa-pkcs1v15", "legacy packager (RSA PKCS#1 v1.5)") + "\n"
        + "[[predicates]]\ntype = \"https://slsa.dev/provenance/v1\"\n\n"
        + "[[predicates]]\ntype = \"https://cyclonedx.org/bom\"\nmatch = \"prefix\"\n\n"
        + "[[predicates]]\ntype = \"https://spdx.dev/Document\"\nmatch = \"prefix\"\n\n"
        + "[[predicates]]\ntype = \"https://cosign.sigstore.dev/attestation/vuln/v1\"\n\n"
        + "[[rules]]\nname = \"release images carry provenance from the release pipeline\"\n"
        + f"subject_name = '^{IMAGE.replace('.', chr(92) + '.')}(:.*)?$'\n"
        + f"signers = [\"{ids['ed25519']}\", \"{ids['rsa-pss']}\", \"{ids['ecdsa-p256']}\"]\n"
    )
    with open(os.path.join(HERE, "policy.toml"), "w") as f:
        f.write(policy)


if __name__ == "__main__":
    main()
