"""Project files: typed config, variables, interpolation and loading."""

from headwater.project.config import ProjectConfig
from headwater.project.loader import PROJECT_FILE, Project, load_project
from headwater.project.variables import parse_assignments

__all__ = ["PROJECT_FILE", "Project", "ProjectConfig", "load_project", "parse_assignments"]
