"""The afbms application: sampler, protection, estimator, detector, log, link."""
