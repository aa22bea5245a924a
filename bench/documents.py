"""What the line renders per base URL it is reached at: how many documents, how long making
them takes, and how much memory their text holds, for a line without extras, with the text
and a person (no store: the offer is the menu and the text), and with the person's whole
offer (a message and a call back, which a call store allows). Up front: what the line makes
when it starts; all: with every document of the offer made too (on first use, one by one).

    .venv/bin/python bench/documents.py [--repeat 5]

Prints one line per kind of line: documents, median milliseconds to make them, KiB of text.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BASE = "https://ivr.example.com"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from ivr import create_app, store
    from ivr.twiml import Documents

    folder = tempfile.TemporaryDirectory()
    url = f"sqlite:///{folder.name}/bench.sqlite3"
    store.upgrade(url)
    extras = {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "SMS_FROM": "+15005550006",
              "AGENT_NUMBER": "+576015550199"}
    kinds = {
        "the guide alone": {},
        "text + person, no store": extras,
        "text + person + store (message, call back)": {**extras, "STORE": True, "DATABASE_URL": url,
                                                        "SECRET_KEY": "bench"},
    }
    for name, config in kinds.items():
        app = create_app({"TESTING": True, "TWILIO_AUTH_TOKEN": "bench-token", "STORE": False,
                          "HOLIDAYS": "", **config})
        line = app.extensions["ivr"]
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            documents = Documents(line.twiml, line.flow, BASE)
            times.append((time.perf_counter() - started) * 1000)
        size = sum(len(d) for d in documents.by_sound.values())
        print(f"{name:<45} up front {len(documents):>5} documents  {statistics.median(times):7.1f} ms  "
              f"{size / 1024:6.0f} KiB")
        started = time.perf_counter()
        for turn in line.flow.turns():
            documents[turn]
        later = (time.perf_counter() - started) * 1000
        size = sum(len(d) for d in documents.by_sound.values())
        print(f"{'':<45} all      {len(documents):>5} documents  {later:7.1f} ms more  {size / 1024:6.0f} KiB")
        if line.store:
            line.store.close()
    folder.cleanup()


if __name__ == "__main__":
    main()
