"""An import-linter contract of our own: another package is reached only through its public rooms.

import-linter's ``protected`` and ``forbidden`` contracts name the modules to protect; ours are
every module of a subpackage except its public rooms, and a module added tomorrow must be
protected without anyone remembering to list it. So the rule is stated by room name instead.
"""

from __future__ import annotations

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output


class PublicRoomsContract(Contract):
    """Imports from one top-level package into another reach only the other's public rooms.

    Configuration options:
        - containers:  the top-level packages the rule is about.
        - rooms:       the module names another package may import (``service``, ``schemas``...).
        - public:      modules every package may import whole (pure vocabulary, the core of infra).
        - exempt:      importers the rule does not apply to (the composition wires everything).
    """

    type_name = "public_rooms"

    containers = fields.ListField(subfield=fields.StringField())
    rooms = fields.ListField(subfield=fields.StringField())
    public = fields.ListField(subfield=fields.StringField(), required=False)
    exempt = fields.ListField(subfield=fields.StringField(), required=False)

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        """Find every direct import of another package's module that is not a public room."""
        containers = set(self.containers)  # type: ignore[arg-type]
        rooms = set(self.rooms)  # type: ignore[arg-type]
        public = tuple(self.public or ())  # type: ignore[arg-type]
        exempt = tuple(self.exempt or ())  # type: ignore[arg-type]

        def within(name: str, prefixes: tuple[str, ...]) -> bool:
            return any(name == p or name.startswith(p + ".") for p in prefixes)

        illegal = []
        for importer in sorted(graph.modules):
            top = importer.split(".")[0]
            if top not in containers or within(importer, exempt):
                continue
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                other = imported.split(".")[0]
                if other == top or other not in containers or within(imported, public):
                    continue
                if imported.rsplit(".", 1)[-1] in rooms or graph.find_children(imported):
                    continue  # a public room, or a package (its __init__ holds only a docstring)
                lines = sorted(d["line_number"] for d in graph.get_import_details(importer=importer,
                                                                                    imported=imported))
                illegal.append((importer, imported, lines))
        return ContractCheck(kept=not illegal, metadata={"illegal": illegal})

    def render_broken_contract(self, check: ContractCheck) -> None:
        """Print each import of another package's internals, with its lines."""
        for importer, imported, lines in check.metadata["illegal"]:
            output.print_error(f"{importer} -> {imported} (l.{', '.join(map(str, lines))}): "
                               f"not a public room of {imported.rsplit('.', 1)[0]}", bold=False)
        output.new_line()
