"""The project scope: who is acting, in which project, with which role."""

import uuid
from dataclasses import dataclass

from app.models.membership import Role


@dataclass(frozen=True, slots=True)
class ProjectScope:
    """The current project of a request and the caller's role in it.

    Passed first to every project-scoped service, which hands `project_id` to its
    repository: nothing else decides which project a query reads.
    """

    project_id: uuid.UUID
    user_id: uuid.UUID
    role: Role
