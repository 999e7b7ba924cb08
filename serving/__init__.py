"""Our MLServer runtime: online scoring that keeps batch scoring's promises.

Runs in the serving image (Dockerfile.serving) and in ``.venv-serving``, where
kfp is not installed: it imports only the kfp-free helpers of ``components``
that batch scoring uses (``components.scoring``, ``components.features``,
``components.families``, ``components.shared``), never a copy of them.
"""
