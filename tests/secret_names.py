"""Common secret names and realistic fake values, for the redaction tests: each must be
hidden by its key (`clues config show`), and its value scrubbed from logs, API answers and
Events. AWS_ACCESS_KEY_ID is an identifier by name; its value is caught by its shape."""

from __future__ import annotations

PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\\n"
    "-----END OPENSSH PRIVATE KEY-----"
)
SECRETS = {
    "PGPASSWORD": "pg-Fake-Passw0rd",
    "MYSQL_PWD": "mysql-Fake-pwd-1",
    "MYSQL_ROOT_PASSWORD": "mysql-root-Fake-2",
    "POSTGRES_PASSWORD": "postgres-Fake-3",
    "REDIS_PASSWORD": "redis-Fake-pass-4",
    "DATABASE_URL": "postgres://app:db-Fake-pw-5@db.example.org:5432/app",
    "REDIS_URL": "redis://:redis-url-Fake-6@cache:6379/0",
    "MONGODB_URI": "mongodb://root:mongo-Fake-7@mongo:27017/admin",
    "RABBITMQ_URL": "amqp://guest:amqp-Fake-8@rabbit:5672/",
    "SENTRY_DSN": "https://abcdef0123456789fake@o1.ingest.sentry.io/42",
    "GITHUB_PAT": "github_pat_11FAKEFAKE0123456789_abcdefghijklmnopqrstuvwxyz",
    "GITHUB_TOKEN": "ghp_FakeFakeFake0123456789abcdefghijKLMN",
    "GH_TOKEN": "gho_FakeFakeFake0123456789abcdefghijKLMN",
    "GITLAB_TOKEN": "glpat-FakeFake0123456789ab",
    "AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKE0123",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKEKEY0123",
    "AWS_SESSION_TOKEN": "IQoJb3JpZ2luX2VjEFAKEFAKEsessiontoken",
    "AZURE_CLIENT_SECRET": "azure~Fake.Client_Secret-9",
    "AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;AccountKey=FakeKey0123==",
    "GOOGLE_APPLICATION_CREDENTIALS": "/etc/fake/gcp-service-account.json",
    "OS_PASSWORD": "openstack-Fake-10",
    "OS_AUTH_TOKEN": "gAAAAABfakeKeystoneToken11",
    "DOCKER_PASSWORD": "docker-Fake-12",
    "NPM_TOKEN": "npm_FakeFakeFakeFake0123456789abcdefABCD",
    "SLACK_TOKEN": "xoxb-0123456789-FakeFakeFake-13",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000FAKE/B000FAKE/XXXXfake14",
    "SMTP_PASSWORD": "smtp-Fake-15",
    "STRIPE_API_KEY": "sk_live_FakeFakeFake0123456789",
    "TWILIO_AUTH_TOKEN": "twilio0123456789fakefake16",
    "SENDGRID_API_KEY": "SG.FakeFakeFake012345.FakeFakeFakeFake0123456789",
    "VAULT_TOKEN": "hvs.FakeFakeFakeFake0123456789",
    "CONSUL_HTTP_TOKEN": "consul-Fake-Token-17",
    "IPMI_PASSWORD": "ipmi-Fake-18",
    "BMC_PASS": "bmc-Fake-19",
    "JWT_SECRET": "jwt-Fake-Secret-20",
    "SECRET_KEY_BASE": "rails-Fake-Key-Base-21",
    "DJANGO_SECRET_KEY": "django-Fake-Key-22",
    "API_KEY": "apikey-Fake-23",
    "ACCESS_TOKEN": "access-Fake-Token-24",
    "CLIENT_SECRET": "client-Fake-Secret-25",
    "PRIVATE_KEY": PEM,
    "SSH_PASSPHRASE": "ssh-Fake-Phrase-26",
    "HTPASSWD": "admin:$apr1$fake$Fake27",
    "ONE_AUTH": "oneadmin:one-Fake-28",
    "DIGITALOCEAN_TOKEN": "dop_v1_" + "ab" * 32,
    "HCLOUD_TOKEN": "hcloud-Fake-Token-29",
    "CLOUDFLARE_API_TOKEN": "cloudflare-Fake-30",
    "ENCRYPTION_KEY": "encryption-Fake-31",
    "WEBHOOK_SECRET": "webhook-Fake-32",
}
# Secrets that appear nowhere in a config: only their shape can give them away.
SHAPES = {
    "url with password": "https://deploy:shape-Fake-pw@git.example.org/repo.git",
    "github classic": "ghp_ShapeShapeShape0123456789abcdefghijKL",
    "github fine-grained": "github_pat_11SHAPE0123456789_abcdefghijklmnopqrstuvwxyzAB",
    "aws key id": "AKIASHAPESHAPE012345",
    "slack": "xoxp-0123456789-shape-shape-shape",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzaGFwZSJ9.c2hhcGUtc2lnbmF0dXJlLWZha2U",
    "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIshapeFAKE\n-----END RSA PRIVATE KEY-----",
    "pair": "password=shape-Fake-pair",
}
