"""The options: what users write (:mod:`.options`), resolved once (:mod:`.config`), and the
start-up checks of their values."""
