"""The staff areas: one module per role's pages. Routes stay thin: they check the role,
call a domain service and render."""
