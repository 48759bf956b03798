"""Microsoft's own Python clients against the emulator, configured as a
user would: azure-identity's ClientSecretCredential (MSAL underneath) with
the emulator as authority, and the APIM management SDK creating a
service, backing it up and updating a named value.

usage: sdk_flow.py RESOURCE_GROUP SERVICE STORAGE_ACCOUNT CONTAINER
(env: the emulator's env file, and STORAGE_KEY). Prints one JSON line."""

import base64
import json
import os
import sys

import emulator_env
from azure.mgmt.apimanagement import ApiManagementClient
from azure.mgmt.apimanagement.models import (
    ApiManagementServiceBackupRestoreParameters,
    ApiManagementServiceResource,
    ApiManagementServiceSkuProperties,
    NamedValueCreateContract,
    NamedValueUpdateParameters,
)


def claims(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def main():
    rg, service, account, container = sys.argv[1:5]
    arm = emulator_env.arm()
    credential = emulator_env.credential()
    token = credential.get_token(arm + "/.default")
    c = claims(token.token)
    client = ApiManagementClient(credential, os.environ["AZURE_SUBSCRIPTION_ID"], **emulator_env.client_options(polling_interval=0.05))
    created = client.api_management_service.begin_create_or_update(
        rg,
        service,
        ApiManagementServiceResource(
            location="westeurope",
            sku=ApiManagementServiceSkuProperties(name="Developer", capacity=1),
            publisher_email="ops@example.com",
            publisher_name="Python",
        ),
        polling_interval=0.05,
    ).result()
    client.named_value.begin_create_or_update(
        rg, service, "backend-host", NamedValueCreateContract(display_name="backend-host", value="https://api.src.example.com"),
        polling_interval=0.05,
    ).result()
    backed_up = client.api_management_service.begin_backup(
        rg,
        service,
        ApiManagementServiceBackupRestoreParameters(
            storage_account=account,
            container_name=container,
            backup_name="python-sdk.apimbackup",
            access_type="AccessKey",
            access_key=os.environ["STORAGE_KEY"],
        ),
        polling_interval=0.05,
    ).result()
    holder = {}

    def etag(response, model, headers):
        holder["etag"] = headers.get("ETag")
        return model

    client.named_value.get(rg, service, "backend-host", cls=etag)
    updated = client.named_value.begin_update(
        rg, service, "backend-host", holder["etag"], NamedValueUpdateParameters(value="https://api.dest.example.com"),
        polling_interval=0.05,
    ).result()
    print(json.dumps({
        "claims": {k: c.get(k) for k in ["aud", "iss", "tid", "oid", "appid", "azp", "exp", "nbf"]},
        "service": created.provisioning_state,
        "backup": backed_up.provisioning_state,
        "namedValue": updated.value,
    }))


if __name__ == "__main__":
    main()
