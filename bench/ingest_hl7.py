"""HL7 v2 ORU^R01 ingest through the full path (store the message, parse, map, write through the router with
its index rows, record the outcome), beside the raw parse-only rate of the same messages in the same run.

The raw parse is python-hl7 as it comes (`hl7.parse` with its own containers, every segment and field),
after decoding the bytes: the cost of reading the messages at all. `parse_as_ingest` is what the pipeline
does before mapping (yilian.ingest.hl7v2.message: split into segments and fields; a field is parsed by
python-hl7's field parser when the mapper first reads it, so that part is in the full path only).

`store_rows_only` is the floor under the full path: the rows the path writes for these messages (resources,
index rows, compartments; planned beforehand, not timed) inserted by the store's own batch insert, 500
messages per transaction as the writer groups them, with nothing else: no matching, no audit, no parsing.
No pipeline on this database can go faster than that.

`mllp_*` is the real-time path: the messages sent to the MLLP listener (`yilian mllp`) on a loopback
socket, each waiting for its ACK before the next is sent (as HL7 senders do), over one connection and
over eight at once (the listener ingests what arrives together as one batch).

The messages are lab reports as the demo's tertiary hospital sends them: a chemistry panel of five results
each, local LIS codes mapped to LOINC through the member's code table, for 500 patients the hospital
registered beforehand (ADT^A28, not timed: a lab result is for a patient the MPI already knows).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable

import hl7

from bench.common import (
    best_of,
    discarded,
    emit,
    fresh_gate,
    in_own_process,
    insert_only,
    machine,
    rates_of,
)
from yilian.demo.local_codes import code_tables
from yilian.fhir.messages import FhirRequest
from yilian.fhir.router import handle
from yilian.gate.caller import operator
from yilian.gate.repository import Gate
from yilian.ingest.hl7v2.decode import decode
from yilian.ingest.hl7v2.message import Message
from yilian.ingest.intake import hl7_items
from yilian.ingest.mllp import MllpServer, exchange
from yilian.ingest.pipeline import ingest
from yilian.ingest.prepare import Work, prepare, preparing_processes
from yilian.ingest.store import save_code_tables
from yilian.store.rows import PreparedBatch

MEMBER = "m-tertiary-1"
ITEMS = (
    ("GLU", "空腹血糖", "5.6", "3.9-6.1"),
    ("CREA", "肌酐", "84", "57-111"),
    ("K", "钾", "4.2", "3.5-5.3"),
    ("NA", "钠", "141", "137-147"),
    ("ALT", "丙氨酸氨基转移酶", "24", "9-50"),
)
UNITS = {"GLU": "mmol/L", "CREA": "umol/L", "K": "mmol/L", "NA": "mmol/L", "ALT": "U/L"}


PATIENTS = 500
SURNAMES, GIVEN = "王李张刘陈杨黄赵吴周", ("伟", "芳", "娜", "敏", "静", "磊", "强", "洋", "艳", "杰")


def pid(n: int) -> str:
    mrn = f"1{n % PATIENTS:09d}"
    name = f"{SURNAMES[n % 10]}^{GIVEN[(n // 10) % 10]}{GIVEN[(n // 100) % 10]}"
    birth = f"19{40 + n % 50}0{1 + n % 9}{10 + n % 18}"
    return f"PID|1||{mrn}^^^&2.16.156.10011.1.2.1&ISO^MR||{name}^^^^^L||{birth}|F"


def registration(n: int) -> bytes:
    msh = f"MSH|^~\\&|HIS|{MEMBER}|YILIAN|ALLIANCE|20230101||ADT^A28^ADT_A05|R{n:06d}|P|2.5.1"
    return f"{msh}\rEVN|A28|20230101\r{pid(n)}\rPV1|1|N\r".encode()


def message(n: int) -> bytes:
    mrn, day = f"1{n % PATIENTS:09d}", f"202{3 + n % 4}0{1 + n % 9}{10 + n % 18}"
    segments = [
        f"MSH|^~\\&|LIS|{MEMBER}|YILIAN|ALLIANCE|{day}093000+0800||ORU^R01^ORU_R01|B{n:08d}|P|2.5.1"
        "|||||CHN|UNICODE UTF-8",
        pid(n),
        f"PV1|1|O|||||||||||||||||{mrn}-{n}",
        f"ORC|RE|L{n}|L{n}||CM",
        f"OBR|1|L{n}|L{n}|SHQX^生化检查^L|||{day}083000+0800|||||||||||||||{day}093000+0800|||F",
    ]
    for i, (code, name, value, ref) in enumerate(ITEMS, start=1):
        segments.append(
            f"OBX|{i}|NM|{code}^{name}^L||{value}|{UNITS[code]}^^UCUM|{ref}||||F|||{day}083000+0800"
        )
    return ("\r".join(segments) + "\r").encode("utf-8")


def run(count: int, database_url: str | None = None, workers: int = 2, rounds: int = 3) -> dict:
    """Each measure `rounds` times, alternated, each rate the best of its rounds (see bench.ingest.run:
    the machine's speed drifts within minutes); `rounds` keeps every round's rates."""
    messages = [message(n) for n in range(count)]
    seen = [_round(messages, database_url, workers) for _ in range(rounds)]
    result: dict = {"benchmark": "ingest-hl7v2-oru", "messages": count, "results_per_message": len(ITEMS)}
    result.update(best_of(seen))
    result["database"] = seen[0]["database"]
    result["preparing_processes_used"] = preparing_processes(workers)  # niced: the writer keeps its share
    result["rounds"] = rates_of(seen)
    result["machine"] = machine()
    return result


def _round(messages: list[bytes], database_url: str | None, workers: int) -> dict:
    """One round: each measure in a process of its own (bench.common.in_own_process)."""
    count = len(messages)
    result = {
        "parse_only_msgs_per_s": round(count / in_own_process(_parse_s, messages, hl7.parse)),
        "parse_as_ingest_msgs_per_s": round(count / in_own_process(_parse_s, messages, Message)),
        "store_rows_only_msgs_per_s": round(count / in_own_process(store_rows_only, messages, database_url)),
    }
    for label, n_workers in (("full_path_1_process", 0), (f"full_path_{workers}_workers", workers)):
        seconds, resources, dialect = in_own_process(_full_path, messages, database_url, n_workers)
        result["database"] = dialect
        result[f"{label}_msgs_per_s"] = round(count / seconds)
        result[f"{label}_resources_per_s"] = round(resources / seconds)
    for connections, sent in ((1, min(count, 300)), (8, min(count, 1000))):
        rate = in_own_process(_mllp, messages[:sent], database_url, connections)
        result[f"mllp_{connections}_connections_msgs_per_s"] = round(rate)
    return result


def _parse_s(messages: list[bytes], parse: Callable[[str], object]) -> float:
    """Seconds to decode and parse every message."""
    started = time.perf_counter()
    for raw in messages:
        parse(decode(raw).text)
    return time.perf_counter() - started


def _full_path(messages: list[bytes], database_url: str | None, workers: int) -> tuple[float, int, str]:
    """Seconds to ingest the messages into a fresh member database, the resources written, the dialect."""
    with discarded(_bench_member(database_url, len(messages))) as gate:
        items = [hl7_items(raw, member=MEMBER, source="bench")[0] for raw in messages]
        started = time.perf_counter()
        results = ingest(gate, items, workers=workers)
        seconds = time.perf_counter() - started
        assert all(r.status == "processed" for r in results), [r.error for r in results if r.error][:3]
        return seconds, sum(r.resources for r in results), gate.engine.dialect.name


def _mllp(messages: list[bytes], database_url: str | None, connections: int) -> float:
    with discarded(_bench_member(database_url, len(messages))) as gate:
        return mllp_rate(gate, messages, connections)


def _bench_member(database_url: str | None, count: int) -> Gate:
    """A fresh database with the bench's member, its code tables and its registered patients."""
    gate = fresh_gate(database_url)
    handle(
        gate,
        operator(),
        FhirRequest(
            "PUT",
            f"Organization/{MEMBER}",
            body={"resourceType": "Organization", "id": MEMBER, "name": "bench"},
        ),
    )
    save_code_tables(gate.engine, MEMBER, code_tables(MEMBER))
    ingest(gate, [hl7_items(registration(n), member=MEMBER)[0] for n in range(min(count, PATIENTS))])
    return gate


def mllp_rate(gate: Gate, messages: list[bytes], connections: int) -> float:
    """Messages/s through the MLLP listener, `connections` senders each waiting for every ACK."""
    server = MllpServer(gate, "127.0.0.1", 0)
    server.start()
    share = [messages[k::connections] for k in range(connections)]
    accepted = [0] * connections

    def send(k: int) -> None:
        acks = exchange("127.0.0.1", server.port, share[k])
        accepted[k] = sum(b"MSA|AA" in ack for ack in acks)

    threads = [threading.Thread(target=send, args=(k,)) for k in range(connections)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    server.shutdown()
    server.server_close()
    assert sum(accepted) == len(messages), f"{sum(accepted)} of {len(messages)} accepted"
    return len(messages) / seconds


def store_rows_only(messages: list[bytes], database_url: str | None, group: int = 500) -> float:
    """Seconds to insert the rows the messages' plans write (planned beforehand, untimed): the floor."""
    tables = code_tables(MEMBER)
    plans = [
        prepare(Work(n, MEMBER, "hl7v2", "ORU^R01", raw, None), tables, plan=True).plan
        for n, raw in enumerate(messages)
    ]
    for plan in plans:  # the patients are registered already: the full path matches them, writes none
        plan.batch.drop({step.key for step in plan.steps if step.rtype == "Patient"})
    batches = [
        PreparedBatch.concatenated([p.batch for p in plans[i : i + group]])[0]
        for i in range(0, len(plans), group)
    ]
    with discarded(fresh_gate(database_url)) as gate:
        return insert_only(gate.engine, batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--database-url", help="PostgreSQL URL to measure there instead of SQLite")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds of every measure")
    args = parser.parse_args()
    emit(run(args.messages, args.database_url, args.workers, args.rounds))


if __name__ == "__main__":
    main()
