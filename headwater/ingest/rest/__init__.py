"""REST API sources: endpoints paged, selected, fanned out from parents, typed as Arrow."""
