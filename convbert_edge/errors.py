"""The errors a user can cause. Each message says what was wrong and what to do."""


class ConvBertEdgeError(Exception):
    """Base of every error convbert_edge raises on purpose."""


class ConfigError(ConvBertEdgeError, ValueError):
    """A config.json or config value no model can be built from."""


class CheckpointError(ConvBertEdgeError):
    """A checkpoint that is missing, unreadable or does not fit the model."""


class TokenizerError(ConvBertEdgeError, ValueError):
    """A vocabulary or tokenizer file that cannot be used, or text it cannot encode."""


class ArtifactError(ConvBertEdgeError):
    """An artifact directory that is incomplete, corrupt or does not match its manifest."""


class ExportError(ConvBertEdgeError):
    """An export step that could not produce a working artifact."""


class InputError(ConvBertEdgeError, ValueError):
    """Model inputs handed to Session.run that the artifact cannot take (name, dtype,
    shape or value); a ValueError too, as the checks it replaces raised."""
