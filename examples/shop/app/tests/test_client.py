"""The account and project endpoints through the generated Python client, over HTTP.

The client is made from the API's OpenAPI document as it is now (see `make client`),
so what a client generator makes of the document is tested with the code. Each
resource's module does the same for its own endpoints (`ClientContract`).
"""

import uuid
from types import ModuleType

from app.tests.conftest import PASSWORD
from app.tests.live import operation


def test_an_account_and_its_projects_through_the_client(
    api_client: ModuleType, server: str
) -> None:
    models = api_client.models
    email = f"user-{uuid.uuid4().hex[:12]}@example.com"
    anonymous = api_client.Client(base_url=server)

    register = operation(api_client, "auth", "register")
    created = register.sync_detailed(
        client=anonymous, body=models.RegisterRequest(email=email, password=PASSWORD)
    )
    assert created.status_code == 201
    assert isinstance(created.parsed, models.UserResponse)
    again = register.sync_detailed(
        client=anonymous, body=models.RegisterRequest(email=email, password=PASSWORD)
    )
    assert again.status_code == 409
    assert isinstance(again.parsed, models.ErrorResponse)
    assert again.parsed.code == "duplicate_email"

    login = operation(api_client, "auth", "token")
    refused = login.sync_detailed(
        client=anonymous, body=models.BodyAuthToken(username=email, password="wrong")
    )
    assert refused.status_code == 401
    assert isinstance(refused.parsed, models.ErrorResponse)
    assert refused.parsed.code == "invalid_credentials"
    tokens = login.sync(
        client=anonymous, body=models.BodyAuthToken(username=email, password=PASSWORD)
    )
    assert isinstance(tokens, models.TokenPair)
    refreshed = operation(api_client, "auth", "refresh").sync(
        client=anonymous, body=models.RefreshRequest(refresh_token=tokens.refresh_token)
    )
    assert isinstance(refreshed, models.TokenPair)

    user = api_client.AuthenticatedClient(base_url=server, token=refreshed.access_token)
    me = operation(api_client, "users", "me").sync(client=user)
    assert isinstance(me, models.UserResponse) and me.email == email
    project = operation(api_client, "projects", "create").sync(
        client=user, body=models.ProjectCreate(name="Second")
    )
    assert isinstance(project, models.ProjectResponse)
    renamed = operation(api_client, "projects", "update").sync(
        project.id, client=user, body=models.ProjectUpdate(name="Renamed")
    )
    assert isinstance(renamed, models.ProjectResponse) and renamed.name == "Renamed"
    listed = operation(api_client, "projects", "list").sync(client=user)
    assert isinstance(listed, list) and project.id in {p.id for p in listed}
    invalid = operation(api_client, "projects", "create").sync_detailed(
        client=user, body=models.ProjectCreate(name="")
    )
    assert invalid.status_code == 422
    assert isinstance(invalid.parsed, models.HTTPValidationError)

    delete = operation(api_client, "projects", "delete")
    assert delete.sync_detailed(project.id, client=user).status_code == 204
    missing = operation(api_client, "projects", "get").sync_detailed(
        project.id, client=user
    )
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.ErrorResponse)
    assert missing.parsed.code == "project_not_found"

    stranger = api_client.AuthenticatedClient(base_url=server, token="not-a-token")
    unknown = operation(api_client, "users", "me").sync_detailed(client=stranger)
    assert unknown.status_code == 401
    assert isinstance(unknown.parsed, models.ErrorResponse)
    assert unknown.parsed.code == "not_authenticated"
