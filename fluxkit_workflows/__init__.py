"""FluxKit's workflows as code: the graph builder, node schemas, the definitions and the writer/validator of their
UI and API JSON files (`python -m fluxkit_workflows.build`)."""
