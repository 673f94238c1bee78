"""Measuring micro-segments against their holdouts (docs/design.md): cohorts at an instant,
outcomes in the window after it, KPIs per group, lifts with intervals and p-values, MDE."""
