# Generates the test RSA-2048 key, its self-signed cert and the signed SNS fixtures in this
# directory (python3 gen_fixtures.py; needs the `cryptography` package).
import base64, datetime, json, os
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa, padding

HERE = os.path.dirname(os.path.abspath(__file__))

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
now = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
cert = (x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=365 * 100))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("sns.amazonaws.com")]), critical=False)
        .sign(key, hashes.SHA256()))
open(os.path.join(HERE, "sns-test-key.pk8.pem"), "wb").write(key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
open(os.path.join(HERE, "sns-test-cert.pem"), "wb").write(cert.public_bytes(serialization.Encoding.PEM))

NOTIF = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
CONF = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]

def string_to_sign(m):
    keys = NOTIF if m["Type"] == "Notification" else CONF
    return "".join(f"{k}\n{m[k]}\n" for k in keys if k in m)

def sign(m, version):
    h = hashes.SHA1() if version == "1" else hashes.SHA256()
    m["SignatureVersion"] = version
    sig = key.sign(string_to_sign(m).encode(), padding.PKCS1v15(), h)
    m["Signature"] = base64.b64encode(sig).decode()
    m["SigningCertURL"] = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000000000test.pem"
    return m

notif = {"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
         "TopicArn": "arn:aws:sns:us-east-1:123456789012:MyTopic", "Subject": "My First Message",
         "Message": "Hello world!\nline two", "Timestamp": "2012-05-02T00:54:06.655Z",
         "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:MyTopic:c9135db0-26c4-47ec-8998-413945fb5a96"}
conf = {"Type": "SubscriptionConfirmation", "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37fb687f5d51e6e2425c464de", "TopicArn": "arn:aws:sns:us-east-1:123456789012:MyTopic",
        "Message": "You have chosen to subscribe to the topic arn:aws:sns:us-east-1:123456789012:MyTopic.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
        "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:MyTopic&Token=2336412f37fb687f5d51e6e2425c464de",
        "Timestamp": "2012-04-26T20:45:04.751Z"}
for v in ("1", "2"):
    json.dump(sign(dict(notif), v), open(os.path.join(HERE, f"notification-v{v}.json"), "w"), indent=2)
    json.dump(sign(dict(conf), v), open(os.path.join(HERE, f"subscription-confirmation-v{v}.json"), "w"), indent=2)
print(string_to_sign(notif))
