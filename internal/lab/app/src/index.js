// LossLab's JupyterLab 3.6 application: every extension that package.json lists, started in the page that
// losslab_lab.py serves. Extensions disabled or deferred in the page config (labconfig/page_config.json)
// are honoured, as in a stock JupyterLab; prebuilt (federated) extensions are not loaded.
import { JupyterLab } from '@jupyterlab/application';
import { PageConfig } from '@jupyterlab/coreutils';
import { plugins as pluginModules, mime as mimeModules } from 'losslab-extensions';

// exportsOf returns the plugins a module exports: its default export, one plugin or a list.
function exportsOf(mod) {
  const value = mod && mod.__esModule ? mod.default : mod;
  return Array.isArray(value) ? value : [value];
}

// split keeps the enabled plugins of the modules and records the disabled and deferred ones.
function split(modules, disabled, deferred) {
  const kept = [];
  for (const mod of modules) {
    for (const plugin of exportsOf(mod)) {
      if (PageConfig.Extension.isDisabled(plugin.id)) {
        disabled.push(plugin.id);
        continue;
      }
      if (PageConfig.Extension.isDeferred(plugin.id)) deferred.push(plugin.id);
      kept.push(plugin);
    }
  }
  return kept;
}

async function main() {
  const disabled = [];
  const deferred = [];
  const mimeExtensions = split(mimeModules, disabled, deferred);
  const plugins = split(pluginModules, disabled, deferred);
  const lab = new JupyterLab({
    mimeExtensions,
    disabled: { matches: disabled, patterns: PageConfig.Extension.disabled.map((p) => p.raw) },
    deferred: { matches: deferred, patterns: PageConfig.Extension.deferred.map((p) => p.raw) },
  });
  lab.registerPluginModules(plugins);
  if (PageConfig.getOption('exposeAppInBrowser').toLowerCase() === 'true') {
    window.jupyterapp = lab;
  }
  await lab.start({ ignorePlugins: deferred });
  await lab.restored;
}

main().catch((err) => {
  console.error('JupyterLab (LossLab) failed to start', err);
  document.body.textContent = 'JupyterLab failed to start: ' + err;
});
