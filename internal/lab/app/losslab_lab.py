"""LossLab's JupyterLab 3.6 server: jupyterlab_server's LabServerApp on Debian's Jupyter Server 1.x,
serving the front end that webpack.config.js built, with MathJax from Debian's libjs-mathjax.

Installed by `go run ./kernel install` next to its build folder, and started by `go run ./kernel up` as

    /usr/bin/python3 losslab_lab.py [Jupyter Server options, e.g. --ip=127.0.0.1 --port=8888]

Jupyter Server loads an extension application by importing its module and asking it for
_jupyter_server_extension_points, so this file must be imported under its own name, never run as
__main__ (that fails with KeyError: 'lab'): the block at the end re-imports it by name.
"""

import os
import sys

from jupyter_core.paths import jupyter_config_dir
from jupyter_server.base.handlers import FileFindHandler
from jupyterlab_server import LabServerApp
from traitlets import Bool, Unicode, default

HERE = os.path.dirname(os.path.abspath(__file__))

# The JupyterLab release whose front-end packages package.json pins.
VERSION = "3.6.8"

# Where Debian's libjs-mathjax installs MathJax 2, and the URL (under the base URL) it is served from.
MATHJAX_DIR = "/usr/share/javascript/mathjax"
MATHJAX_URL = "static/losslab-mathjax/"


class LossLabApp(LabServerApp):
    """JupyterLab from LossLab's own build (see webpack.config.js)."""

    # "lab" makes the static files live under /static/lab/, where the front end expects them.
    name = "lab"
    app_name = "JupyterLab"
    description = "JupyterLab " + VERSION + " for LossLab, built from npm's @jupyterlab packages"
    app_version = Unicode(VERSION)
    # Only this application: no server extension found on the machine changes what the tests exercise.
    load_other_extensions = False

    build_dir = Unicode(
        os.path.join(HERE, "build"),
        config=True,
        help="The folder holding the static, schemas and themes folders of the build.",
    )
    expose_app_in_browser = Bool(
        False, config=True, help="Expose the application as window.jupyterapp (for tests)."
    )

    @default("static_dir")
    def _default_static_dir(self):
        return os.path.join(self.build_dir, "static")

    @default("templates_dir")
    def _default_templates_dir(self):
        return os.path.join(self.build_dir, "static")

    @default("schemas_dir")
    def _default_schemas_dir(self):
        return os.path.join(self.build_dir, "schemas")

    @default("themes_dir")
    def _default_themes_dir(self):
        return os.path.join(self.build_dir, "themes")

    @default("app_settings_dir")
    def _default_app_settings_dir(self):
        return os.path.join(self.build_dir, "settings")

    @default("user_settings_dir")
    def _default_user_settings_dir(self):
        return os.environ.get("JUPYTERLAB_SETTINGS_DIR") or os.path.join(
            jupyter_config_dir(), "lab", "user-settings"
        )

    @default("workspaces_dir")
    def _default_workspaces_dir(self):
        return os.environ.get("JUPYTERLAB_WORKSPACES_DIR") or os.path.join(
            jupyter_config_dir(), "lab", "workspaces"
        )

    @default("labextensions_path")
    def _default_labextensions_path(self):
        # The front end loads only what it was built with, so list no prebuilt extensions either.
        return []

    def initialize_settings(self):
        super().initialize_settings()
        index = os.path.join(self.templates_dir, "index.html")
        if not os.path.isfile(index):
            raise SystemExit(
                f"LossLab's JupyterLab is not built ({index} is missing): run `go run ./kernel install`"
            )
        if os.path.isfile(os.path.join(MATHJAX_DIR, "MathJax.js")):
            # A relative URL: Jupyter Server puts the base URL in front of it.
            self.settings["mathjax_url"] = MATHJAX_URL + "MathJax.js"
            self.settings["mathjax_config"] = "TeX-AMS_HTML-full,Safe"
        else:
            self.log.warning(
                "MathJax not found in %s (Debian package libjs-mathjax): formulas are shown as TeX",
                MATHJAX_DIR,
            )
            # Never let jupyterlab_server fall back to its CDN URL.
            self.settings["mathjax_url"] = MATHJAX_URL + "missing/MathJax.js"
        page_config = self.settings.setdefault("page_config_data", {})
        page_config["exposeAppInBrowser"] = self.expose_app_in_browser

    def initialize_handlers(self):
        super().initialize_handlers()
        # Before the /lab fall-through handler that LabServerApp added last.
        self.handlers.insert(
            0, ("/" + MATHJAX_URL + "(.*)", FileFindHandler, {"path": [MATHJAX_DIR]})
        )


def _jupyter_server_extension_points():
    return [{"module": "losslab_lab", "app": LossLabApp}]


def main(argv=None):
    LossLabApp.launch_instance(argv)


if __name__ == "__main__":
    # Re-import under the module's own name (see the module comment); HERE is already on sys.path.
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    import losslab_lab

    losslab_lab.main()
