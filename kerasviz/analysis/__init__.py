"""Measuring backprop maps: metrics now; experiments and reports to come."""

from kerasviz.analysis import metrics
