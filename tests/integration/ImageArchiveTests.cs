using System.Diagnostics;
using System.Text.Json.Nodes;

namespace MiniDocker.IntegrationTests;

/// <summary>`save`: an archive skopeo reads both as docker-archive and as an OCI layout, whiteouts kept.</summary>
public sealed class ImageArchiveTests : IDisposable
{
    private readonly MiniDocker _md = new(importBusybox: false);
    private readonly LocalRegistry _registry = new();
    private readonly OciLayout _layout = new();
    private readonly string _work = Path.Combine(Path.GetTempPath(), "mdk-archive-" + Guid.NewGuid().ToString("N")[..10]);

    public ImageArchiveTests() => Directory.CreateDirectory(_work);

    public void Dispose()
    {
        _md.Dispose();
        _registry.Dispose();
        _layout.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    private static (int Exit, string Stdout, string Stderr) Tool(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>busybox + a layer with files + a layer with a whiteout and an opaque directory, pulled.</summary>
    private string PullLayered()
    {
        var baseLayer = OciLayout.Layer(File.ReadAllBytes(MiniDocker.BusyboxTar), "gzip");
        var add = OciLayout.Layer(OciLayout.Tar(("data/", null), ("data/keep.txt", "kept"), ("data/gone.txt", "gone"),
            ("opq/", null), ("opq/lower.txt", "hidden")));
        var delete = OciLayout.Layer(OciLayout.Tar(("data/.wh.gone.txt", ""), ("opq/", null), ("opq/.wh..wh..opq", ""),
            ("opq/upper.txt", "upper")), "zstd");
        _layout.Tag("1", _layout.Image([baseLayer, add, delete], OciLayout.HostArchitecture,
            new JsonObject { ["Cmd"] = new JsonArray("sh", "-c", "echo saved-cmd") }));
        _registry.Push(_layout, "arch", "1");
        var reference = $"{_registry.Host}/arch:1";
        var pull = _md.Run("pull", reference);
        Assert.True(pull.ExitCode == 0, pull.ToString());
        return reference;
    }

    [Fact]
    public void Save_writes_an_archive_skopeo_reads_as_docker_archive_and_as_oci_with_whiteouts_kept()
    {
        var reference = PullLayered();
        var archive = Path.Combine(_work, "saved.tar");
        var save = _md.Run("save", reference, "-o", archive);
        Assert.True(save.ExitCode == 0, save.ToString());

        var inspect = Tool("skopeo", "inspect", $"docker-archive:{archive}");
        Assert.True(inspect.Exit == 0, inspect.Stderr);
        var info = JsonNode.Parse(inspect.Stdout)!;
        Assert.Equal(3, info["Layers"]!.AsArray().Count);
        Assert.Equal(OciLayout.HostArchitecture, (string?)info["Architecture"]);

        var copy = Tool("skopeo", "copy", $"docker-archive:{archive}", $"oci:{Path.Combine(_work, "oci")}:copied");
        Assert.True(copy.Exit == 0, copy.Stderr);
        var oci = Tool("skopeo", "inspect", $"oci-archive:{archive}");
        Assert.True(oci.Exit == 0, oci.Stderr);

        // The top layer as saved still says "gone.txt is deleted" and "opq hides what is below".
        var unpacked = Path.Combine(_work, "unpacked");
        Directory.CreateDirectory(unpacked);
        Assert.Equal(0, Tool("tar", "-xf", archive, "-C", unpacked).Exit);
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(unpacked, "manifest.json")))!.AsArray()[0]!;
        Assert.Equal(reference, (string?)manifest["RepoTags"]![0]);
        var top = Tool("tar", "-tf", Path.Combine(unpacked, (string)manifest["Layers"]![2]!)).Stdout;
        Assert.Contains("data/.wh.gone.txt", top);
        Assert.Contains("opq/.wh..wh..opq", top);
        Assert.DoesNotContain("data/gone", top.Replace(".wh.gone", ""));
    }

    [Fact]
    public void Save_to_stdout_works_when_redirected_and_an_unknown_image_is_one_line_with_no_file_left()
    {
        var reference = PullLayered();
        var archive = Path.Combine(_work, "stdout.tar");
        var sh = Tool("sh", "-c", $"'{MiniDocker.Binary}' --root '{_md.Root}' save '{reference}' > '{archive}'");
        Assert.True(sh.Exit == 0, sh.Stderr);
        Assert.Equal(0, Tool("skopeo", "inspect", $"docker-archive:{archive}").Exit);

        var missing = Path.Combine(_work, "missing.tar");
        var bad = _md.Run("save", "no-such-image:1", "-o", missing);
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Single(bad.Stderr.Trim().Split('\n'));
        Assert.Empty(Directory.GetFiles(_work, "*missing*", SearchOption.TopDirectoryOnly));
    }

    private string[] StoredLayers() =>
        Directory.Exists(Path.Combine(_md.Root, "images", "layers"))
            ? Directory.GetDirectories(Path.Combine(_md.Root, "images", "layers")).Select(d => Path.GetFileName(d)).ToArray()
            : [];

    [Fact]
    public void Save_rmi_load_run_gives_back_the_image_with_its_whiteouts_and_its_config()
    {
        var reference = PullLayered();
        var archive = Path.Combine(_work, "round.tar");
        Assert.Equal(0, _md.Run("save", reference, "-o", archive).ExitCode);
        Assert.Equal(0, _md.Run("rmi", reference).ExitCode);
        Assert.Equal(0, _md.Run("image", "prune", "-a", "-f").ExitCode);

        var load = _md.Run("load", "-i", archive);
        Assert.True(load.ExitCode == 0, load.ToString());
        Assert.Equal($"Loaded image: {reference}\n", load.Stdout);
        var run = _md.Run("run", "--rm", "--net", "none", reference, "sh", "-c",
            "cat /data/keep.txt; echo; ls /opq; test -e /data/gone.txt && echo GONE-VISIBLE; true");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("kept\nupper.txt\n", run.Stdout);
        Assert.Equal("saved-cmd\n", _md.Run("run", "--rm", "--net", "none", reference).Stdout);

        // From stdin, gzip-compressed: the same layers, stored once.
        var layersBefore = StoredLayers().Length;
        var sh = Tool("sh", "-c", $"gzip -c '{archive}' | '{MiniDocker.Binary}' --root '{_md.Root}' load");
        Assert.True(sh.Exit == 0, sh.Stderr);
        Assert.Equal(layersBefore, StoredLayers().Length);
    }

    [Fact]
    public void Load_reads_an_archive_skopeo_made()
    {
        var baseLayer = OciLayout.Layer(File.ReadAllBytes(MiniDocker.BusyboxTar), "gzip");
        var extra = OciLayout.Layer(OciLayout.Tar(("hello.txt", "from skopeo")), "gzip");
        _layout.Tag("s", _layout.Image([baseLayer, extra], OciLayout.HostArchitecture));
        var archive = Path.Combine(_work, "skopeo.tar");
        var copy = Tool("skopeo", "copy", $"oci:{_layout.Dir}:s", $"docker-archive:{archive}:skopeo/made:v1");
        Assert.True(copy.Exit == 0, copy.Stderr);

        var load = _md.Run("load", "-i", archive);
        Assert.True(load.ExitCode == 0, load.ToString());
        Assert.Contains("Loaded image: skopeo/made:v1", load.Stdout);
        Assert.Equal("from skopeo", _md.Run("run", "--rm", "--net", "none", "skopeo/made:v1", "cat", "/hello.txt").Stdout);
    }

    [Fact]
    public void A_tampered_archive_is_refused_in_one_line_and_nothing_is_left()
    {
        var reference = PullLayered();
        var archive = Path.Combine(_work, "good.tar");
        Assert.Equal(0, _md.Run("save", reference, "-o", archive).ExitCode);
        var unpacked = Path.Combine(_work, "tamper");
        Directory.CreateDirectory(unpacked);
        Assert.Equal(0, Tool("tar", "-xf", archive, "-C", unpacked).Exit);
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(unpacked, "manifest.json")))!.AsArray()[0]!;
        var top = Path.Combine(unpacked, (string)manifest["Layers"]![2]!);
        File.AppendAllText(top, "X"); // one byte more: the blob no longer matches its name
        var tampered = Path.Combine(_work, "tampered.tar");
        Assert.Equal(0, Tool("tar", "-cf", tampered, "-C", unpacked, ".").Exit);

        var fresh = new MiniDocker(importBusybox: false);
        try
        {
            var load = fresh.Run("load", "-i", tampered);
            Assert.NotEqual(0, load.ExitCode);
            Assert.Single(load.Stderr.Trim().Split('\n'));
            Assert.Contains("does not match its digest", load.Stderr);
            Assert.DoesNotContain("arch", fresh.Run("images").Stdout);
            var images = Path.Combine(fresh.Root, "images");
            Assert.Empty(Directory.Exists(images) ? Directory.GetFileSystemEntries(images, ".tmp-*") : []);
            var layers = Path.Combine(images, "layers");
            Assert.DoesNotContain(Directory.Exists(layers) ? Directory.GetDirectories(layers).Select(Path.GetFileName) : [],
                n => n!.Length == 64);

            // The untouched archive loads.
            Assert.Equal(0, fresh.Run("load", "-i", archive).ExitCode);
        }
        finally
        {
            fresh.Dispose();
        }
    }
}
