"""Microsoft's authorization and monitor SDKs against the emulator's
extension resources: a role assignment at a vault's scope (created, read,
listed with atScope() and by principal, deleted) and a service's Azure
Monitor diagnostic setting (created, read, listed, deleted).

usage: sdk_extensions.py RESOURCE_GROUP SERVICE PRINCIPAL (env: the
emulator's env file). Prints one JSON line: what each call answered."""

import json
import os
import sys
import uuid

import emulator_env
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters, RoleAssignmentProperties
from azure.mgmt.monitor import MonitorManagementClient
from azure.mgmt.monitor.models import DiagnosticSettingsResource, LogSettings, MetricSettings

SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"


def main():
    rg, svc, principal = sys.argv[1:4]
    sub = os.environ["AZURE_SUBSCRIPTION_ID"]
    credential = emulator_env.credential()
    auth = AuthorizationManagementClient(credential, sub, **emulator_env.client_options())
    monitor = MonitorManagementClient(credential, sub, **emulator_env.client_options())
    out = {}

    vault = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/contoso-vault"
    name = str(uuid.uuid4())
    created = auth.role_assignments.create(
        vault,
        name,
        RoleAssignmentCreateParameters(
            properties=RoleAssignmentProperties(
                role_definition_id=f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{SECRETS_USER}",
                principal_id=principal,
                principal_type="ServicePrincipal",
            )
        ),
    )
    out["roleScope"] = created.scope
    out["roleDefinition"] = created.role_definition_id.rsplit("/", 1)[-1]
    out["roleRead"] = auth.role_assignments.get(vault, name).principal_id
    out["atScope"] = [a.name for a in auth.role_assignments.list_for_scope(vault, filter="atScope()")]
    out["byPrincipal"] = [a.name for a in auth.role_assignments.list_for_subscription(filter=f"principalId eq '{principal}'")]
    auth.role_assignments.delete(vault, name)
    out["afterDelete"] = [a.name for a in auth.role_assignments.list_for_scope(vault, filter="atScope()")]

    service = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ApiManagement/service/{svc}"
    workspace = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/workspaces/ops"
    setting = monitor.diagnostic_settings.create_or_update(
        service,
        "to-workspace",
        DiagnosticSettingsResource(
            workspace_id=workspace,
            logs=[LogSettings(category="GatewayLogs", enabled=True)],
            metrics=[MetricSettings(category="AllMetrics", enabled=True)],
        ),
    )
    out["settingWorkspace"] = setting.workspace_id
    out["settingRead"] = [l.category for l in monitor.diagnostic_settings.get(service, "to-workspace").logs]
    out["settings"] = [s.name for s in monitor.diagnostic_settings.list(service)]
    monitor.diagnostic_settings.delete(service, "to-workspace")
    out["settingsAfterDelete"] = [s.name for s in monitor.diagnostic_settings.list(service)]
    out["roleName"] = name
    print(json.dumps(out))


if __name__ == "__main__":
    main()
