#!/usr/bin/env python3
"""Test certificates for the TLS cases (PyPI `cryptography`): a CA; a good server
certificate for localhost/127.0.0.1; one for the wrong host; an expired one; and a
self-signed one nobody trusts. Usage: make-certs.py DIR"""
import datetime, ipaddress, os, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

out = sys.argv[1]
now = datetime.datetime.now(datetime.timezone.utc)

def key():
    return ec.generate_private_key(ec.SECP256R1())

def write(name, cert, k):
    open(os.path.join(out, name + ".pem"), "wb").write(cert.public_bytes(serialization.Encoding.PEM))
    open(os.path.join(out, name + ".key"), "wb").write(k.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

def cert(subject_cn, k, issuer_cert, issuer_key, sans, not_before, not_after, ca=False):
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
         .issuer_name(issuer_cert.subject if issuer_cert else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
         .public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(issuer_key, hashes.SHA256())

day = datetime.timedelta(days=1)
ca_key = key()
ca = cert("TrueOTP Test CA", ca_key, None, ca_key, None, now - day, now + 365 * day, ca=True)
write("ca", ca, ca_key)
local = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
for name, sans, nb, na in [("good", local, now - day, now + 30 * day),
                           ("wrong", [x509.DNSName("wrong.example")], now - day, now + 30 * day),
                           ("expired", local, now - 30 * day, now - day)]:
    k = key()
    write(name, cert(name, k, ca, ca_key, sans, nb, na), k)
k = key()
write("selfsigned", cert("localhost", k, None, k, local, now - day, now + 30 * day), k)
