"""The feature encoder: the answer encoding as a scikit-learn transformer.

:class:`FeatureEncoder` follows the scikit-learn transformer contract (a learned
step in a pipeline, clone-safe). The encodings themselves, and the rules for
missing answers, are those of :class:`~scoring.features.encoding.AnswerEncoder`
(see :mod:`scoring.features.encoding`), which it fits and delegates to.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from scoring.features.encoding import AnswerEncoder
from scoring.questionnaire.definition import Question, Questionnaire


class FeatureEncoder(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Encode validated answers of a questionnaire as numeric features.

    Parameters
    ----------
    questionnaire : Questionnaire, optional
        The questionnaire the answers follow; the bundled default when omitted.

    Attributes
    ----------
    answer_encoder_ : AnswerEncoder
        The fitted encoding, without scikit-learn (what the rating engine uses).
    feature_names_out_ : numpy.ndarray of str
        Feature names, in output order.
    feature_info_ : pandas.DataFrame
        One row per feature: ``feature``, ``question_id``, ``encoding``,
        ``is_control``, ``perils``.
    unknown_fill_ : dict
        Median used for an "unknown" number, by question id (learned in ``fit``).
    caps_ : dict
        Each capped feature's (low, high), learned by ``learn_caps`` in training.
    questionnaire_key_ : str
        The key (``id@version``) of the questionnaire the encoder was fitted for.

    Examples
    --------
    >>> from scoring import FeatureEncoder, bundled_questionnaire
    >>> encoder = FeatureEncoder(bundled_questionnaire())
    >>> encoder.get_params()["questionnaire"].id
    'care_cyber'
    """

    answer_encoder_: AnswerEncoder

    def __init__(self, questionnaire: Questionnaire | None = None) -> None:
        self.questionnaire = questionnaire

    @classmethod
    def from_state(
        cls,
        questionnaire: Questionnaire,
        unknown_fill: dict[str, float],
        caps: dict[str, tuple[float, float]] | None = None,
    ) -> FeatureEncoder:
        """A fitted encoder rebuilt from its learned state (as stored in a model file)."""
        encoder = cls(questionnaire)
        encoder.answer_encoder_ = AnswerEncoder(questionnaire, unknown_fill, caps)
        return encoder

    # -- fitted state, held by the answer encoder ------------------------------------------
    @property
    def feature_names_out_(self) -> np.ndarray:
        return self._fitted().feature_names

    @property
    def feature_info_(self) -> pd.DataFrame:
        return self._fitted().feature_info

    @property
    def unknown_fill_(self) -> dict[str, float]:
        return self._fitted().unknown_fill

    @property
    def caps_(self) -> dict[str, tuple[float, float]]:
        return self._fitted().caps

    @property
    def questionnaire_key_(self) -> str:
        return self._fitted().questionnaire.key

    # -- scikit-learn contract -------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: Any = None) -> FeatureEncoder:
        """Learn the feature layout and the fill values for unknown numbers."""
        encoder = AnswerEncoder.learn(self._questionnaire(), X)
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.n_features_in_ = len(X.columns)
        self.answer_encoder_ = encoder
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Encode answers; returns a float64 array of shape (n_rows, n_features)."""
        encoder = self._fitted()
        questionnaire = self._questionnaire()
        if questionnaire.key != encoder.questionnaire.key:
            raise ValueError(
                f"the encoder was fitted for {encoder.questionnaire.key}; got {questionnaire.key}"
            )
        return encoder.transform(X)

    def control_level(self, question: Question, answer: Any, as_of: dt.date) -> float:
        """The level (0 worst .. 1 best) one answer to a control is encoded as.

        See :meth:`AnswerEncoder.control_level
        <scoring.features.encoding.AnswerEncoder.control_level>`.
        """
        return self._fitted().control_level(question, answer, as_of)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Feature names, each starting with the question id it comes from."""
        return np.asarray(self._fitted().feature_names, dtype=object)

    # -- fill values learned from a book read in parts -------------------------------------
    def fill_values(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        """The numbers :meth:`fit` takes its fill values from, question by question: a
        book read in parts gathers them part by part (see :meth:`refill`)."""
        return self._fitted().fill_values(X)

    def refill(self, features: np.ndarray, values: dict[str, list[np.ndarray]]) -> None:
        """Learn the fill values from the numbers of every part of a book (as gathered
        by :meth:`fill_values`), and put them in place of the unknown numbers of
        ``features``, which this encoder encoded before it knew them.

        The encoder then holds the state :meth:`fit` on the whole book gives, and
        ``features`` are what it would have encoded.
        """
        self._fitted().refill(features, values)

    def learn_caps(self, features: np.ndarray) -> None:
        """Learn the caps of the capped features from a book's encoded ``features`` and
        clip them in place (see :meth:`AnswerEncoder.learn_caps
        <scoring.features.encoding.AnswerEncoder.learn_caps>`)."""
        self._fitted().learn_caps(features)

    # -- helpers ---------------------------------------------------------------------------
    def _fitted(self) -> AnswerEncoder:
        check_is_fitted(self, "answer_encoder_")
        return self.answer_encoder_

    def _questionnaire(self) -> Questionnaire:
        if self.questionnaire is not None:
            return self.questionnaire
        from scoring.questionnaire.loader import bundled_questionnaire

        return bundled_questionnaire()
