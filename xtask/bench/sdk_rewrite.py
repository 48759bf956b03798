"""The named value rewrite written as an operator would with Microsoft's
Python management SDK: list, read secrets and write changes on 16 threads,
polling each write every 0.05 s. `cargo xtask bench` runs it against the
emulator beside `apim-namedvalues list | rewrite | apply`, so the
comparison is rerun, not remembered.

usage: sdk_rewrite.py RESOURCE_GROUP SERVICE OLD_HOST NEW_HOST
(the emulator's env file gives AZURE_ARM_ENDPOINT, AZURE_AUTHORITY_HOST,
AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_SUBSCRIPTION_ID
and SSL_CERT_FILE). Prints one JSON line: changes made and seconds taken."""

import json
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from azure.core.credentials import AccessToken
from azure.mgmt.apimanagement import ApiManagementClient
from azure.mgmt.apimanagement.models import NamedValueUpdateParameters

THREADS = 16


class ClientSecret:
    """Client credentials against the emulator's token endpoint."""

    def __init__(self):
        self.token = None

    def get_token(self, *scopes, **kwargs):
        if self.token is None or self.token.expires_on < time.time() + 300:
            r = requests.post(
                f"{os.environ['AZURE_AUTHORITY_HOST'].rstrip('/')}/{os.environ['AZURE_TENANT_ID']}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": os.environ["AZURE_CLIENT_ID"],
                    "client_secret": os.environ["AZURE_CLIENT_SECRET"],
                    "scope": scopes[0],
                },
                timeout=30,
            )
            r.raise_for_status()
            body = r.json()
            self.token = AccessToken(body["access_token"], int(time.time()) + int(body["expires_in"]))
        return self.token


def main():
    rg, service, old, new = sys.argv[1:5]
    arm = os.environ["AZURE_ARM_ENDPOINT"].rstrip("/")
    # The emulator's CA (its env file points SSL_CERT_FILE at it) is what requests must trust.
    if os.environ.get("SSL_CERT_FILE"):
        os.environ["REQUESTS_CA_BUNDLE"] = os.environ["SSL_CERT_FILE"]
    client = ApiManagementClient(
        ClientSecret(),
        os.environ["AZURE_SUBSCRIPTION_ID"],
        base_url=arm,
        credential_scopes=[arm + "/.default"],
        polling_interval=0.05,
    )
    host = re.compile(r"(?<![A-Za-z0-9.-])" + re.escape(old) + r"(?![A-Za-z0-9-]|\.[A-Za-z0-9])", re.IGNORECASE)
    started = time.time()
    named_values = list(client.named_value.list_by_service(rg, service))

    def read(nv):
        value = nv.value
        if nv.secret and nv.key_vault is None:
            value = client.named_value.list_value(rg, service, nv.name).value
        return nv, value

    def write(change):
        nv, value = change
        poller = client.named_value.begin_update(
            rg, service, nv.name, "*", NamedValueUpdateParameters(value=value), polling_interval=0.05
        )
        poller.result()

    with ThreadPoolExecutor(THREADS) as pool:
        read_back = list(pool.map(read, named_values))
        changes = [(nv, host.sub(new, v)) for nv, v in read_back if v and host.search(v)]
        list(pool.map(write, changes))
    print(json.dumps({"listed": len(named_values), "changes": len(changes), "seconds": time.time() - started}))


if __name__ == "__main__":
    main()
