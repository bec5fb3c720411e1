// Package badinput holds tests only: what LossLab's public entry points do with bad input (missing or
// truncated checkpoints, checkpoints of another model, NaN losses, empty or mis-shaped data, a full
// disk while saving) where the owning package's own tests do not already show it. The README's table
// ("When things go wrong") maps each case to the test that proves it.
package badinput
