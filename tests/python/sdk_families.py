"""Microsoft's APIM management SDK writes one entity of every family the
toolkit reads to the emulator, then reads each back (and the secrets it
may read), so the emulator is judged by a client it did not write.

usage: sdk_families.py RESOURCE_GROUP SERVICE (env: the emulator's env
file). The service must exist. Prints one JSON line: what was written,
and what was read back."""

import base64
import json
import os
import sys

import emulator_env
from azure.mgmt.apimanagement import ApiManagementClient

HOST = "api.src.example.com"


def props(**kw):
    return {"properties": kw}


def main():
    rg, svc = sys.argv[1:3]
    c = ApiManagementClient(emulator_env.credential(), os.environ["AZURE_SUBSCRIPTION_ID"], **emulator_env.client_options(polling_interval=0.05))
    sid = f"/subscriptions/{os.environ['AZURE_SUBSCRIPTION_ID']}/resourceGroups/{rg}/providers/Microsoft.ApiManagement/service/{svc}"
    at = (rg, svc)
    written = []

    def w(path, call):
        call()
        written.append(path)

    poll = {"polling_interval": 0.05}
    w("namedValues/backend-host", lambda: c.named_value.begin_create_or_update(*at, "backend-host", props(displayName="backend-host", value=f"https://{HOST}"), **poll).result())
    w("tags/public", lambda: c.tag.create_or_update(*at, "public", props(displayName="Public")))
    w("apiVersionSets/graph-set", lambda: c.api_version_set.create_or_update(*at, "graph-set", props(displayName="Graph", versioningScheme="Segment")))
    w("certificates/backend-ca", lambda: c.certificate.create_or_update(*at, "backend-ca", props(data=base64.b64encode(b"python certificate").decode(), password="pfx-password")))
    w("backends/orders", lambda: c.backend.create_or_update(*at, "orders", props(url=f"https://{HOST}/orders", protocol="http")))
    w("loggers/hub", lambda: c.logger.create_or_update(*at, "hub", props(loggerType="azureEventHub", credentials={"name": "hub", "connectionString": f"Endpoint=sb://{HOST}/;SharedAccessKeyName=k;SharedAccessKey=s"})))
    w("caches/default", lambda: c.cache.create_or_update(*at, "default", props(connectionString=f"{HOST}:6380,password=p,ssl=True", useFromLocation="default", description="Redis")))
    w("policyFragments/forward", lambda: c.policy_fragment.begin_create_or_update(*at, "forward", props(format="xml", value=f'<fragment><set-backend-service base-url="https://{HOST}/v2" /></fragment>'), **poll).result())
    w("authorizationServers/corp", lambda: c.authorization_server.create_or_update(*at, "corp", props(displayName="Corp", clientRegistrationEndpoint=f"https://{HOST}/register", authorizationEndpoint=f"https://{HOST}/authorize", grantTypes=["authorizationCode"], clientId="corp-client", clientSecret="as-secret")))
    w("identityProviders/aad", lambda: c.identity_provider.create_or_update(*at, "aad", props(clientId="aad-client", clientSecret="idp-secret", allowedTenants=["contoso.example"])))
    w("openidConnectProviders/corp-oidc", lambda: c.open_id_connect_provider.create_or_update(*at, "corp-oidc", props(displayName="Corp OIDC", metadataEndpoint=f"https://{HOST}/.well-known/openid-configuration", clientId="oidc-client", clientSecret="oidc-secret")))
    w("schemas/order", lambda: c.global_schema.begin_create_or_update(*at, "order", props(schemaType="json", description="An order", document={"type": "object"}), **poll).result())
    w("documentations/start", lambda: c.documentation.create_or_update(*at, "start", props(title="Start", content=f"Call https://{HOST}/")))
    w("apis/graph", lambda: c.api.begin_create_or_update(*at, "graph", props(displayName="Graph", path="graph", serviceUrl=f"https://{HOST}/graphql", protocols=["https"]), **poll).result())
    w("apis/graph/operations/get", lambda: c.api_operation.create_or_update(*at, "graph", "get", props(displayName="get", method="GET", urlTemplate="/")))
    policy = {"format": "xml", "value": "<policies><inbound><base /></inbound><backend><base /></backend><outbound><base /></outbound></policies>"}
    w("apis/graph/policies/policy", lambda: c.api_policy.create_or_update(*at, "graph", "policy", {"properties": policy}))
    w("apis/graph/operations/get/policies/policy", lambda: c.api_operation_policy.create_or_update(*at, "graph", "get", "policy", {"properties": policy}))
    w("apis/graph/tags/public", lambda: c.tag.assign_to_api(*at, "graph", "public"))
    w("apis/graph/operations/get/tags/public", lambda: c.tag.assign_to_operation(*at, "graph", "get", "public"))
    w("apis/graph/diagnostics/applicationinsights", lambda: c.api_diagnostic.create_or_update(*at, "graph", "applicationinsights", props(loggerId=f"{sid}/loggers/hub")))
    w("apis/graph/schemas/graphql", lambda: c.api_schema.begin_create_or_update(*at, "graph", "graphql", props(contentType="application/vnd.ms-azure-apim.graphql.schema", document={"value": "type Query { users: [String] }"}), **poll).result())
    w("apis/graph/releases/v1", lambda: c.api_release.create_or_update(*at, "graph", "v1", props(apiId=f"{sid}/apis/graph", notes="first")))
    w("apis/graph/wikis/default", lambda: c.api_wiki.create_or_update(*at, "graph", props(documents=[{"documentationId": "start"}])))
    w("apis/graph/resolvers/users", lambda: c.graph_ql_api_resolver.create_or_update(*at, "graph", "users", props(displayName="users", path="Query/users")))
    w("apis/graph/resolvers/users/policies/policy", lambda: c.graph_ql_api_resolver_policy.create_or_update(*at, "graph", "users", "policy", props(format="xml", value=f"<http-data-source><http-request><set-method>GET</set-method><set-url>https://{HOST}/users</set-url></http-request></http-data-source>")))
    w("apis/graph/tagDescriptions/public", lambda: c.api_tag_description.create_or_update(*at, "graph", "public", props(description="Public", externalDocsUrl=f"https://{HOST}/tags")))
    w("products/gold", lambda: c.product.create_or_update(*at, "gold", props(displayName="Gold", state="published")))
    w("products/gold/apis/graph", lambda: c.product_api.create_or_update(*at, "gold", "graph"))
    w("products/gold/policies/policy", lambda: c.product_policy.create_or_update(*at, "gold", "policy", {"properties": policy}))
    w("products/gold/tags/public", lambda: c.tag.assign_to_product(*at, "gold", "public"))
    w("policies/policy", lambda: c.policy.create_or_update(*at, "policy", {"properties": policy}))
    w("diagnostics/applicationinsights", lambda: c.diagnostic.create_or_update(*at, "applicationinsights", props(loggerId=f"{sid}/loggers/hub")))
    w("users/alice", lambda: c.user.create_or_update(*at, "alice", props(email="alice@contoso.example", firstName="Alice", lastName="Smith", password="user-password")))
    w("groups/partners", lambda: c.group.create_or_update(*at, "partners", props(displayName="Partners")))
    w("groups/partners/users/alice", lambda: c.group_user.create(*at, "partners", "alice"))
    w("products/gold/groups/partners", lambda: c.product_group.create_or_update(*at, "gold", "partners"))
    w("products/gold/wikis/default", lambda: c.product_wiki.create_or_update(*at, "gold", props(documents=[{"documentationId": "start"}])))
    w("subscriptions/partner-key", lambda: c.subscription.create_or_update(*at, "partner-key", props(displayName="Partner key", scope=f"{sid}/products/gold", ownerId=f"{sid}/users/alice", primaryKey="primary-1", secondaryKey="secondary-1")))
    w("gateways/onprem", lambda: c.gateway.create_or_update(*at, "onprem", props(locationData={"name": "Dublin"}, description="on premises")))
    w("gateways/onprem/apis/graph", lambda: c.gateway_api.create_or_update(*at, "onprem", "graph"))
    w("gateways/onprem/hostnameConfigurations/default", lambda: c.gateway_hostname_configuration.create_or_update(*at, "onprem", "default", props(hostname=HOST, certificateId=f"{sid}/certificates/backend-ca", http2Enabled=True)))
    w("gateways/onprem/certificateAuthorities/backend-ca", lambda: c.gateway_certificate_authority.create_or_update(*at, "onprem", "backend-ca", props(isTrusted=True)))
    w("portalsettings/signin", lambda: c.sign_in_settings.create_or_update(*at, props(enabled=True)))
    w("portalsettings/signup", lambda: c.sign_up_settings.create_or_update(*at, props(enabled=True, termsOfService={"enabled": True, "text": "Terms", "consentRequired": True})))
    w("portalsettings/delegation", lambda: c.delegation_settings.create_or_update(*at, props(url=f"https://{HOST}/delegate", validationKey=base64.b64encode(b"validation-key").decode(), subscriptions={"enabled": True}, userRegistration={"enabled": True})))
    w("notifications/BCC", lambda: c.notification.create_or_update(*at, "BCC"))
    w("notifications/BCC/recipientUsers/alice", lambda: c.notification_recipient_user.create_or_update(*at, "BCC", "alice"))
    w("notifications/BCC/recipientEmails/ops@contoso.example", lambda: c.notification_recipient_email.create_or_update(*at, "BCC", "ops@contoso.example"))
    w("templates/applicationApprovedNotificationMessage", lambda: c.email_template.create_or_update(*at, "applicationApprovedNotificationMessage", props(subject="Approved", body=f"<p>https://{HOST}/apps</p>")))
    w("authorizationProviders/aad-graph", lambda: c.authorization_provider.create_or_update(*at, "aad-graph", props(displayName="aad-graph", identityProvider="aad", oauth2={"redirectUrl": "https://authorization-manager.consent.azure-apim.net/redirect/apim/x", "grantTypes": {"clientCredentials": {"clientId": "cc", "clientSecret": "ap-secret", "resourceUri": "https://graph.microsoft.com"}}})))
    w("authorizationProviders/aad-graph/authorizations/daemon", lambda: c.authorization.create_or_update(*at, "aad-graph", "daemon", props(authorizationType="OAuth2", oauth2grantType="ClientCredentials", parameters={"clientId": "cc", "clientSecret": "authz-secret"})))
    w("authorizationProviders/aad-graph/authorizations/daemon/accessPolicies/ops", lambda: c.authorization_access_policy.create_or_update(*at, "aad-graph", "daemon", "ops", props(tenantId="13932a0d-5c63-4d37-901d-1df9c97722ff", objectId="fe0bed83-631f-4149-bd0b-0464b1bc7cab")))
    w("policyRestrictions/strict", lambda: c.policy_restriction.create_or_update(*at, "strict", props(scope="/apis/graph", requireBase="true")))
    w("contentTypes/page", lambda: c.content_type.create_or_update(*at, "page", props(name="Page", description="A page", schema={"type": "object"}, version="1.0.0")))
    w("contentTypes/page/contentItems/home", lambda: c.content_item.create_or_update(*at, "page", "home", {"properties": {"en_us": {"title": "Home"}}}))

    # Read back through the SDK: the models it deserializes, and the secrets.
    read = {
        "user": c.user.get(*at, "alice").email,
        "subscriptionKey": c.subscription.list_secrets(*at, "partner-key").primary_key,
        "authorizationServerSecret": c.authorization_server.list_secrets(*at, "corp").client_secret,
        "identityProviderSecret": c.identity_provider.list_secrets(*at, "aad").client_secret,
        "openIdSecret": c.open_id_connect_provider.list_secrets(*at, "corp-oidc").client_secret,
        "delegationKey": c.delegation_settings.list_secrets(*at).validation_key,
        "gatewayHost": c.gateway_hostname_configuration.get(*at, "onprem", "default").hostname,
        "fragment": c.policy_fragment.get(*at, "forward").value,
        "certificateThumbprint": c.certificate.get(*at, "backend-ca").thumbprint,
        "groupUsers": [u.name for u in c.group_user.list(*at, "partners")],
        "cacheConnection": c.cache.get(*at, "default").connection_string,
        "resolverPath": c.graph_ql_api_resolver.get(*at, "graph", "users").path,
        "contentItems": [i.name for i in c.content_item.list_by_service(*at, "page")],
    }
    print(json.dumps({"written": written, "read": read}))


if __name__ == "__main__":
    main()
