// Package atlas compares loss landscapes across training objectives: for one model and data set it
// trains R ≥ 3 independently initialised networks per classification objective of lib/losses (the same R
// initialisations for every objective, so objectives are compared run by run), plus a data-order sibling
// of each (same initialisation, another batch order), and measures per objective, with every run's
// numbers and their spread:
//
//   - test accuracy, test cross-entropy, the objective's own test loss and the expected calibration error
//     (ECE, Guo, Pleiss, Sun & Weinberger, "On Calibration of Modern Neural Networks", ICML 2017,
//     arXiv:1706.04599);
//   - the linear-mode-connectivity barrier between independent runs before and after weight matching
//     (Ainsworth, Hayase & Srinivasa, "Git Re-Basin", ICLR 2023, arXiv:2209.04836), and between
//     data-order siblings (Frankle, Dziugaite, Roy & Carbin, "Linear Mode Connectivity and the Lottery
//     Ticket Hypothesis", ICML 2020, arXiv:1912.05671);
//   - the top Hessian eigenvalue (Lanczos) and the Hessian trace (Hutchinson) at each solution;
//   - a 1-D slice of each solution and a 2-D slice of the first along filter-normalised random
//     directions (Li, Xu, Taylor, Studer & Goldstein, "Visualizing the Loss Landscape of Neural Nets",
//     NeurIPS 2018, arXiv:1712.09913).
//
// Every landscape number is measured with cross-entropy, whatever the training objective, so that the
// objectives are compared on one yardstick: barriers and ECE on the test set, curvature and slices on
// the first examples of the training set. Training is lib/train's Run, measurement lib/landscape's.
//
// Run returns plain data (Atlas) with provenance. With a CacheDir each objective's record is written
// there as JSON (atomically) under a name that holds a hash of everything that decides it, so an
// interrupted atlas resumes where it stopped, adding an objective computes only that one, and a
// changed configuration recomputes. Objectives that cannot be trained by lib/train on their own (they
// need inputs a plain classifier does not produce) are listed in Atlas.Skipped with the reason.
package atlas
