"""The loss model: synthetic book, training, evaluation."""
