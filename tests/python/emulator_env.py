"""What every script needs to reach the emulator, from its env file: the
ARM endpoint, a credential from its Entra ID, and the options that point
a management SDK client at it."""

import os

from azure.identity import ClientSecretCredential


def arm():
    return os.environ["AZURE_ARM_ENDPOINT"].rstrip("/")


def credential():
    return ClientSecretCredential(
        os.environ["AZURE_TENANT_ID"],
        os.environ["AZURE_CLIENT_ID"],
        os.environ["AZURE_CLIENT_SECRET"],
        authority=os.environ["AZURE_AUTHORITY_HOST"],
        disable_instance_discovery=True,
        connection_verify=os.environ["REQUESTS_CA_BUNDLE"],
    )


def client_options(**extra):
    """base_url, scopes and the CA for an SDK client; `extra` added."""
    return {
        "base_url": arm(),
        "credential_scopes": [arm() + "/.default"],
        "connection_verify": os.environ["REQUESTS_CA_BUNDLE"],
        **extra,
    }
