"""Weights: registry, cache location, resumable sha256-checked download, import, resolve, CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch

import vadpipe.weights.registry as weights_registry
from tests.helpers.checkpoints import (
    WRITERS,
    source_features,
    write_caffe2_i3d_nonlocal_pkl,
    write_caffe2_nonlocal_pkl,
    write_resnet3d_nonlocal_pth,
)
from vadpipe.backbones.install import download, import_weights
from vadpipe.backbones.registry import build_backbone, resolve_weights
from vadpipe.cli.app import main
from vadpipe.core.backbone_facts import BACKBONES
from vadpipe.errors import UsageError, VadpipeError
from vadpipe.weights import cache_dir, cached_path, entries, fetch, get_entry, read_metadata
from vadpipe.weights.caffe2 import caffe2_key, read_caffe2_blobs
from vadpipe.weights.checkpoint import read_state_dict
from vadpipe.weights.fetch import TransferError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class _Server:
    """A local HTTP server for one payload that honours ``Range: bytes=N-``.

    ``cut_first`` makes the first full response stop halfway (a dropped connection);
    ``ignore_range`` answers every request with the whole file (200).
    """

    def __init__(self, payload: bytes, *, cut_first: bool = False, ignore_range: bool = False):
        self.payload, self.cut_first, self.ignore_range = payload, cut_first, ignore_range
        self.ranges: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                rng = self.headers.get("Range")
                server.ranges.append(rng)
                start = int(rng.removeprefix("bytes=").rstrip("-")) if rng and not server.ignore_range else 0
                body = server.payload[start:]
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(server.payload) - 1}/{len(server.payload)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_first and len(server.ranges) == 1:
                    body = body[: len(body) // 2]
                    self.close_connection = True
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/file.bin"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(payload: bytes = PAYLOAD, **kwargs) -> _Server:
        servers.append(_Server(payload, **kwargs))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


@pytest.fixture
def dead_url():
    """A URL on a local port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/file.bin"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def inception(tmp_path_factory):
    """(piergiaj-layout checkpoint, its source model) for the smallest backbone."""
    file_name, write = WRITERS["inception_i3d"]
    path = tmp_path_factory.mktemp("inception") / file_name
    return path, write(path)


def _with_sha(monkeypatch, name: str, sha256: str) -> None:
    patched = {**entries(), name: dataclasses.replace(get_entry(name), sha256=sha256)}
    monkeypatch.setattr(weights_registry, "entries", lambda: patched)


# --- registry and cache ---------------------------------------------------------------------------------------------


def test_registry_json_is_valid_and_every_backbone_default_exists():
    raw = json.loads((Path(weights_registry.__file__).parent / "registry.json").read_text())
    names = [e["name"] for e in raw["weights"]]
    assert len(names) == len(set(names))
    for e in raw["weights"]:
        assert set(e) == {f.name for f in dataclasses.fields(weights_registry.WeightsEntry)}
        assert e["sha256"] is None or (len(e["sha256"]) == 64 and int(e["sha256"], 16) >= 0)
        assert all(u.startswith("https://") for u in e["urls"])
        assert e["backbone"] in BACKBONES and e["feature_dim"] == BACKBONES[e["backbone"]].feature_dim
    for spec in BACKBONES.values():
        assert get_entry(spec.weights).backbone == spec.name
    assert get_entry("i3d_r50_kinetics400").url.endswith("/pytorchvideo/model_zoo/kinetics/I3D_8x8_R50.pyth")
    assert get_entry("resnet3d_i3d_r50_kinetics").url == (
        "https://dl.fbaipublicfiles.com/video-nonlocal/i3d_baseline_32x2_IN_pretrain_400k.pkl")


def test_registry_cites_files_that_exist_at_the_named_commits():
    # pytorch-resnet3d's pretrained/download_weights.sh exists only in its first commit (67c2096, removed
    # in 051d514); its Readme.md fetches the .pkl with wget since then (8d3e1da, the newest commit).
    for e in entries().values():
        assert "download_weights.sh" not in e.source + e.notes
    source = get_entry("resnet3d_i3d_r50_kinetics").source
    assert "https://github.com/Tushar-N/pytorch-resnet3d" in source and "Readme.md" in source and "8d3e1da" in source
    assert "run_i3d_baseline_400k_32f" in source  # the video-nonlocal-net README row the URL is listed in


def test_cache_dir_follows_vadpipe_home_else_user_cache(home, monkeypatch):
    assert cache_dir() == home / "weights"
    monkeypatch.delenv("VADPIPE_HOME")
    import platformdirs

    assert cache_dir() == Path(platformdirs.user_cache_dir("vadpipe")) / "weights"


def test_unknown_weights_name_is_a_usage_error():
    with pytest.raises(UsageError, match="known: i3d_r50_kinetics400"):
        get_entry("nope")


# --- fetch ----------------------------------------------------------------------------------------------------------


def test_fetch_downloads_and_checks_sha256(serve, tmp_path):
    server = serve()
    path, digest = fetch(server.url, tmp_path / "f.bin", sha256=hashlib.sha256(PAYLOAD).hexdigest())
    assert path.read_bytes() == PAYLOAD and digest == hashlib.sha256(PAYLOAD).hexdigest()
    assert not (tmp_path / "f.bin.part").exists() and server.ranges == [None]


def test_fetch_with_wrong_sha256_deletes_the_file_and_refuses(serve, tmp_path):
    server = serve()
    with pytest.raises(VadpipeError, match="does not match the registry's 0000") as info:
        fetch(server.url, tmp_path / "f.bin", sha256="0" * 64)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_fetch_resumes_a_cut_transfer_with_a_range_request(serve, tmp_path):
    server = serve(cut_first=True)
    path, digest = fetch(server.url, tmp_path / "f.bin", sha256=hashlib.sha256(PAYLOAD).hexdigest())
    assert path.read_bytes() == PAYLOAD
    assert server.ranges == [None, f"bytes={len(PAYLOAD) // 2}-"]


def test_fetch_resumes_a_part_file_left_by_a_killed_run(serve, tmp_path):
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:1000])
    server = serve()
    path, _ = fetch(server.url, tmp_path / "f.bin")
    assert path.read_bytes() == PAYLOAD and server.ranges == ["bytes=1000-"]


def test_fetch_starts_over_when_the_server_ignores_range(serve, tmp_path):
    (tmp_path / "f.bin.part").write_bytes(b"x" * 1000)
    server = serve(ignore_range=True)
    path, _ = fetch(server.url, tmp_path / "f.bin")
    assert path.read_bytes() == PAYLOAD


def test_fetch_with_server_down_is_one_line_naming_the_url(dead_url, tmp_path):
    with pytest.raises(TransferError) as info:
        fetch(dead_url, tmp_path / "f.bin", attempts=2)
    message = str(info.value)
    assert dead_url in message and "cannot reach it" in message and "\n" not in message


# --- download / import / resolve ------------------------------------------------------------------------------------


def test_download_verifies_converts_and_becomes_the_default(serve, inception, monkeypatch):
    path, source = inception
    data = path.read_bytes()
    _with_sha(monkeypatch, "inception_i3d_rgb_imagenet", hashlib.sha256(data).hexdigest())
    server = serve(data)
    out = download("inception_i3d_rgb_imagenet", url=server.url)
    assert out == cached_path(get_entry("inception_i3d_rgb_imagenet")) and out.suffix == ".safetensors"
    assert read_metadata(out)["source_sha256"] == hashlib.sha256(data).hexdigest()
    assert not (cache_dir() / "downloads" / "rgb_imagenet.pt").exists()  # only the safetensors copy stays
    model = build_backbone("inception_i3d")  # weights=None -> the cached entry
    assert model.random_init is False
    x = torch.randn(1, 3, 16, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(model(x), source_features("inception_i3d", source, x))


def test_download_with_wrong_registry_hash_is_refused(serve, inception, monkeypatch):
    _with_sha(monkeypatch, "inception_i3d_rgb_imagenet", "f" * 64)
    server = serve(inception[0].read_bytes())
    with pytest.raises(VadpipeError, match="does not match"):
        download("inception_i3d_rgb_imagenet", url=server.url)
    assert not cached_path(get_entry("inception_i3d_rgb_imagenet")).exists()
    assert not any((cache_dir() / "downloads").iterdir())


def test_download_with_network_down_suggests_import(dead_url):
    with pytest.raises(VadpipeError) as info:
        download("inception_i3d_rgb_imagenet", url=dead_url)
    message = str(info.value)
    assert dead_url in message and "`vadpipe weights import inception_i3d_rgb_imagenet FILE`" in message


def test_import_converts_to_safetensors(inception):
    out = import_weights("inception_i3d_rgb_imagenet", inception[0])
    assert resolve_weights("inception_i3d") == out and read_metadata(out)["source_file"] == "rgb_imagenet.pt"


def test_import_with_wrong_hash_keeps_the_users_file(inception, monkeypatch):
    _with_sha(monkeypatch, "inception_i3d_rgb_imagenet", "a" * 64)
    with pytest.raises(VadpipeError, match="does not match"):
        import_weights("inception_i3d_rgb_imagenet", inception[0])
    assert inception[0].is_file() and resolve_weights("inception_i3d") is None


def test_import_of_a_checkpoint_for_another_backbone_is_refused(inception):
    with pytest.raises(VadpipeError, match="does not fit backbone resnet3d: missing keys: conv1.weight"):
        import_weights("resnet3d_i3d_r50_kinetics", inception[0])
    assert resolve_weights("resnet3d") is None


def test_resolve_weights_override_rules(inception, tmp_path):
    assert resolve_weights("inception_i3d", inception[0]) == inception[0]
    with pytest.raises(UsageError, match="expected a .pth / .pyth / .pt / .safetensors"):
        resolve_weights("inception_i3d", tmp_path / "w.bin")
    with pytest.raises(VadpipeError, match="weights file not found"):
        resolve_weights("inception_i3d", tmp_path / "absent.pt")
    with pytest.raises(UsageError, match="are for backbone i3d_r50, not inception_i3d"):
        resolve_weights("inception_i3d", "i3d_r50_kinetics400")
    with pytest.raises(VadpipeError, match="vadpipe weights download inception_i3d_rgb_imagenet"):
        resolve_weights("inception_i3d", "inception_i3d_rgb_imagenet")


# --- CLI ------------------------------------------------------------------------------------------------------------


def test_cli_list_json_with_empty_home(capsys, home):
    assert main(["weights", "list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["cache_dir"] == str(home / "weights")
    rows = {r["name"]: r for r in doc["weights"]}
    assert set(rows) == set(entries()) and not any(r["cached"] for r in rows.values())
    assert rows["inception_i3d_rgb_imagenet"]["sha256_known"] is False
    assert not os.path.exists(home)  # listing creates nothing


def test_cli_import_then_list_shows_cached(capsys, inception):
    assert main(["weights", "import", "inception_i3d_rgb_imagenet", str(inception[0])]) == 0
    assert "checked and cached as" in capsys.readouterr().out
    assert main(["weights", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["weights"]}
    assert rows["inception_i3d_rgb_imagenet"]["cached"] and not rows["i3d_r50_kinetics400"]["cached"]
    assert main(["weights", "list"]) == 0
    assert "inception_i3d_rgb_imagenet" in capsys.readouterr().out


def test_cli_download_errors_are_one_line(capsys, dead_url, monkeypatch):
    assert main(["weights", "download", "inception_i3d_rgb_imagenet", "--url", dead_url, "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("vadpipe: error: download of") and "\n" not in err
    assert main(["weights", "download", "no_such_weights"]) == 2
    no_url = dataclasses.replace(get_entry("resnet3d_i3d_r50_kinetics"), urls=())  # an entry without a public URL
    monkeypatch.setattr(weights_registry, "entries", lambda: {**entries(), no_url.name: no_url})
    assert main(["weights", "download", "resnet3d_i3d_r50_kinetics"]) == 1
    assert "vadpipe weights import resnet3d_i3d_r50_kinetics FILE" in capsys.readouterr().err


# --- the Caffe2 .pkl of the non-local model zoo (resnet3d) -----------------------------------------------------------


@pytest.fixture(scope="module")
def caffe2_pkl(tmp_path_factory):
    path = tmp_path_factory.mktemp("caffe2") / "i3d_baseline_32x2_IN_pretrain_400k.pkl"
    return path, write_caffe2_nonlocal_pkl(path)


def test_caffe2_pkl_is_python2_style_and_converts_to_the_pytorch_resnet3d_keys(caffe2_pkl):
    path, model = caffe2_pkl
    raw = path.read_bytes()
    assert b"cnumpy.core.multiarray\n_reconstruct" in raw and b"_codecs" not in raw  # as Python 2 wrote it
    blobs = read_caffe2_blobs(path)
    assert {"conv1_w", "res_conv1_bn_riv", "res2_0_branch1_w", "res5_2_branch2c_bn_s", "pred_w",
            "conv1_w_momentum", "model_iter"} <= set(blobs)
    assert caffe2_key("res3_1_branch2a_bn_rm") == "layer2.1.bn1.running_mean"
    assert caffe2_key("res4_0_branch1_bn_riv") == "layer3.0.downsample.1.running_var"
    assert caffe2_key("res5_2_branch2b_w") == "layer4.2.conv2.weight" and caffe2_key("pred_b") == "fc.bias"
    assert caffe2_key("nonlocal_conv3_1_theta_w") is None
    state = read_state_dict(path)
    expected = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert set(state) == set(expected)
    assert all(torch.equal(state[k], expected[k]) for k in expected)


def test_caffe2_pkl_loads_into_resnet3d_and_gives_the_source_features(caffe2_pkl):
    path, model = caffe2_pkl
    net = build_backbone("resnet3d", weights=path)
    x = torch.randn(1, 3, 16, 32, 32)
    assert torch.allclose(net(x), source_features("resnet3d", model, x), atol=1e-5)


def test_download_resnet3d_fetches_the_pkl_and_converts_it(caffe2_pkl, serve, capsys):
    path, model = caffe2_pkl
    server = serve(path.read_bytes())
    assert main(["weights", "download", "resnet3d_i3d_r50_kinetics", "--url", server.url, "-q"]) == 0
    cached = cached_path(get_entry("resnet3d_i3d_r50_kinetics"))
    assert read_metadata(cached)["source_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert read_metadata(cached)["source_file"] == "i3d_baseline_32x2_IN_pretrain_400k.pkl"
    net = build_backbone("resnet3d")  # the cached default entry
    x = torch.randn(1, 3, 16, 32, 32)
    assert torch.allclose(net(x), source_features("resnet3d", model, x), atol=1e-5)
    assert not (cached.parent / "downloads" / "i3d_baseline_32x2_IN_pretrain_400k.pkl").exists()


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_pkl_that_needs_code_is_refused_and_nothing_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "evil.pkl"
    bad.write_bytes(pickle.dumps({"blobs": {"conv1_w": [0.0]}, "x": _RunsCode()}, protocol=2))
    with pytest.raises(VadpipeError, match=r"evil.pkl: refused: unpickling it would call (posix|os)\.system"):
        read_state_dict(bad)
    assert not (tmp_path / "pwned").exists()
    (tmp_path / "empty.pkl").write_bytes(pickle.dumps({"weights": [1, 2]}, protocol=2))
    with pytest.raises(VadpipeError, match="no 'blobs' dict of arrays"):
        read_state_dict(tmp_path / "empty.pkl")
    py3 = tmp_path / "py3.pkl"  # a blob file re-saved by Python 3 (bytes via _codecs.encode) still loads
    py3.write_bytes(pickle.dumps({"blobs": {"conv1_w": np.ones((2, 3), dtype=np.float32)}}, protocol=2))
    assert read_state_dict(py3)["conv1.weight"].tolist() == [[1.0] * 3] * 2
    (tmp_path / "cut.pkl").write_bytes(bad.read_bytes()[:10])
    with pytest.raises(VadpipeError, match="not a readable Caffe2 .pkl"):
        read_state_dict(tmp_path / "cut.pkl")


@pytest.fixture(scope="module")
def nonlocal_checkpoints(tmp_path_factory) -> dict[str, Path]:
    """The I3D non-local network as video-nonlocal-net publishes it and as pytorch-resnet3d converts it."""
    folder = tmp_path_factory.mktemp("nonlocal")
    files = {"pkl": folder / "i3d_nonlocal_32x2_IN_pretrain_400k.pkl", "pth": folder / "i3d_r50_nl_kinetics.pth"}
    write_caffe2_i3d_nonlocal_pkl(files["pkl"])
    write_resnet3d_nonlocal_pth(files["pth"])
    return files


@pytest.mark.parametrize("kind", ["pkl", "pth"])
def test_a_nonlocal_i3d_checkpoint_is_refused_in_one_line_that_says_what_it_is(nonlocal_checkpoints, capsys, kind):
    path = nonlocal_checkpoints[kind]
    assert main(["weights", "import", "resnet3d_i3d_r50_kinetics", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "checked and cached" not in out and not cached_path(get_entry("resnet3d_i3d_r50_kinetics")).exists()
    assert len(err.strip().splitlines()) == 1
    assert "I3D ResNet-50 non-local checkpoint (5 non-local blocks" in err
    assert "vadpipe weights download resnet3d_i3d_r50_kinetics" in err


def test_a_nonlocal_pkl_is_refused_as_download_and_as_weights_file(nonlocal_checkpoints, serve, capsys):
    path = nonlocal_checkpoints["pkl"]
    server = serve(path.read_bytes())
    assert main(["weights", "download", "resnet3d_i3d_r50_kinetics", "--url", server.url, "-q"]) == 1
    assert "non-local checkpoint" in capsys.readouterr().err
    assert not cached_path(get_entry("resnet3d_i3d_r50_kinetics")).exists()
    with pytest.raises(VadpipeError, match="non-local"):  # --weights FILE
        build_backbone("resnet3d", weights=path)


class _ArrayReduce(pickle.Pickler):
    """Pickles every ndarray as ``_reconstruct(ndarray, shape, "b")`` + ``state``, as a malformed file could."""

    def __init__(self, file, shape, state):
        super().__init__(file, protocol=2)
        self.shape, self.state = shape, state

    def reducer_override(self, obj):
        if type(obj) is np.ndarray:
            core = getattr(np, "_core", None) or np.core
            return core.multiarray._reconstruct, (np.ndarray, self.shape, "b"), self.state
        return NotImplemented


def _malformed_pkl(path: Path, *, shape=(0,), state=None) -> Path:
    import io

    buffer = io.BytesIO()
    _ArrayReduce(buffer, shape, state).dump({"blobs": {"conv1_w": np.zeros(1, dtype=np.float32)}})
    path.write_bytes(buffer.getvalue())
    return path


def test_malformed_pkls_are_one_line_and_never_allocate_what_they_ask(tmp_path, capsys):
    codec = tmp_path / "codec.pkl"  # {"blobs": _codecs.encode("a", "nocodec")}
    codec.write_bytes(b"\x80\x02}q\x00X\x05\x00\x00\x00blobsq\x01c_codecs\nencode\nq\x02X\x01\x00\x00\x00a"
                      b"X\x07\x00\x00\x00nocodecq\x03\x86q\x04Rq\x05s.")
    with pytest.raises(VadpipeError, match=r"codec.pkl: not a readable Caffe2 .pkl \(it asks for _codecs.encode "
                                           r"with codec 'nocodec'"):
        read_state_dict(codec)
    huge = _malformed_pkl(tmp_path / "huge.pkl", shape=(10**13,))  # numpy would allocate 9 TiB
    with pytest.raises(VadpipeError, match=r"huge.pkl: not a readable Caffe2 .pkl \(it asks for an array "
                                           r"reconstructed with shape \(10000000000000,\)"):
        read_state_dict(huge)
    assert main(["weights", "import", "resnet3d_i3d_r50_kinetics", str(codec)]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_a_pkl_with_an_object_array_is_one_line_not_a_crash(tmp_path):
    import subprocess
    import sys

    # numpy's own __setstate__ crashes the process (SIGSEGV) on this state: run it apart
    bad = _malformed_pkl(tmp_path / "objects.pkl", state=(1, (3,), np.dtype("O"), False, []))
    code = ("from vadpipe.weights.checkpoint import read_state_dict\n"
            f"try:\n    read_state_dict({str(bad)!r})\nexcept Exception as exc:\n    print(exc)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-500:]
    assert "objects.pkl: not a readable Caffe2 .pkl (it asks for an array of dtype object" in run.stdout


@pytest.mark.parametrize(("content", "expected"), [
    (bytes(range(256)) * 20, "not a PyTorch checkpoint (neither a zip archive nor a pickle)"),
    (b"", "not a PyTorch checkpoint (neither a zip archive nor a pickle)"),
    (b"<html>404 Not Found</html>", "not a PyTorch checkpoint (neither a zip archive nor a pickle)"),
])
def test_import_of_a_file_that_is_no_checkpoint_says_so_in_one_line(tmp_path, monkeypatch, capsys, content, expected):
    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path / "home"))
    path = tmp_path / "random.pth"
    path.write_bytes(content)
    assert main(["weights", "import", "i3d_r50_kinetics400", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1
    assert "arbitrary code" not in err and not re.search(r"\(\d+\)", err) and "Warning" not in err


def test_import_of_a_truncated_checkpoint_has_no_error_code_and_names_the_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path / "home"))
    whole = tmp_path / "whole.pth"
    torch.save({"w": torch.zeros(1000)}, whole)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(whole.read_bytes()[:600])
    assert main(["weights", "import", "i3d_r50_kinetics400", str(cut)]) == 1
    err = capsys.readouterr().err.strip()
    assert "not a readable PyTorch checkpoint" in err and "download it again" in err
    assert not re.search(r"\(\d+\)", err) and len(err.splitlines()) == 1
    other = tmp_path / "model.bin"
    other.write_bytes(b"x")
    assert main(["weights", "import", "i3d_r50_kinetics400", str(other)]) == 2
    err = capsys.readouterr().err
    assert "`vadpipe weights import` takes a .pth" in err and "--weights" not in err
