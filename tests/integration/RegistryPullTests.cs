using System.Text.Json.Nodes;

namespace MiniDocker.IntegrationTests;

/// <summary>`pull` and `run` of layered images from a real registry (docker-registry on loopback, filled by skopeo).</summary>
public sealed class RegistryPullTests : IDisposable
{
    private readonly MiniDocker _md = new(importBusybox: false);
    private readonly LocalRegistry _registry = new();
    private readonly OciLayout _layout = new();
    private readonly TestLayer _base = OciLayout.Layer(File.ReadAllBytes(MiniDocker.BusyboxTar), "gzip");

    public void Dispose()
    {
        _md.Dispose();
        _registry.Dispose();
        _layout.Dispose();
    }

    /// <summary>busybox (gzip) + a plain layer adding files + a zstd layer deleting one (whiteout) and hiding a
    /// directory's lower content (opaque), pushed as NAME:1.</summary>
    private (string Reference, TestLayer[] Layers) PushLayered(string name)
    {
        var add = OciLayout.Layer(OciLayout.Tar(("data/", null), ("data/keep.txt", "kept from layer 2"),
            ("data/gone.txt", "deleted by layer 3"), ("opq/", null), ("opq/lower.txt", "hidden by opaque")));
        var delete = OciLayout.Layer(OciLayout.Tar(("data/.wh.gone.txt", ""), ("opq/", null), ("opq/.wh..wh..opq", ""),
            ("opq/upper.txt", "from layer 3")), "zstd");
        var layers = new[] { _base, add, delete };
        var config = new JsonObject
        {
            ["Cmd"] = new JsonArray("sh", "-c", "echo cmd-from-image; pwd; echo $FROM_IMAGE"),
            ["Env"] = new JsonArray("PATH=/usr/sbin:/usr/bin:/sbin:/bin", "FROM_IMAGE=yes"),
            ["WorkingDir"] = "/data",
            ["Labels"] = new JsonObject { ["org.example"] = "label" },
        };
        _layout.Tag("1", _layout.Image(layers, OciLayout.HostArchitecture, config));
        _registry.Push(_layout, name, "1");
        return ($"{_registry.Host}/{name}:1", layers);
    }

    private string[] StoredLayers() =>
        Directory.Exists(Path.Combine(_md.Root, "images", "layers"))
            ? Directory.GetDirectories(Path.Combine(_md.Root, "images", "layers")).Select(d => Path.GetFileName(d))
                .Where(n => n.Length == 64).ToArray()
            : [];

    [Fact]
    public void Pull_then_run_shows_every_layer_hides_whited_out_files_and_uses_the_image_config()
    {
        var (reference, layers) = PushLayered("layered");
        var pull = _md.Run("pull", reference);
        Assert.True(pull.ExitCode == 0, pull.ToString());
        foreach (var layer in layers)
            Assert.Contains($"{layer.Digest[7..19]}: Pull complete", pull.Stdout);
        Assert.Matches(@"Digest: sha256:[0-9a-f]{64}\n", pull.Stdout);
        Assert.Contains($"Status: Downloaded newer image for {reference}", pull.Stdout);

        var files = _md.Run("run", "--rm", "--net", "none", reference, "sh", "-c",
            "cat /data/keep.txt; echo; ls /data; ls /opq; test -e /data/gone.txt && echo GONE-VISIBLE; busybox true && echo base-ok");
        Assert.True(files.ExitCode == 0, files.ToString());
        Assert.Equal("kept from layer 2\nkeep.txt\nupper.txt\nbase-ok\n", files.Stdout);

        var defaults = _md.Run("run", "--rm", "--net", "none", reference);
        Assert.Equal("cmd-from-image\n/data\nyes\n", defaults.Stdout);

        Assert.Equal(0, _md.Run("pull", reference).ExitCode); // second pull: nothing new
        Assert.Contains("Image is up to date", _md.Run("pull", reference).Stdout);
        Assert.Contains("sha256:", _md.Run("images", "--digests").Stdout);
        var inspect = _md.Run("image", "inspect", reference);
        Assert.Contains("\"org.example\": \"label\"", inspect.Stdout);
        Assert.Contains(layers[2].DiffId, inspect.Stdout);
        Assert.Contains("test layer 2", _md.Run("history", reference).Stdout);
    }

    [Fact]
    public void Two_images_sharing_a_base_layer_store_it_once_and_removal_keeps_it_until_the_last()
    {
        var first = OciLayout.Layer(OciLayout.Tar(("one.txt", "1")));
        var second = OciLayout.Layer(OciLayout.Tar(("two.txt", "2")));
        _layout.Tag("a", _layout.Image([_base, first], OciLayout.HostArchitecture));
        _registry.Push(_layout, "a", "a");
        _layout.Tag("b", _layout.Image([_base, second], OciLayout.HostArchitecture));
        _registry.Push(_layout, "b", "b");

        Assert.Equal(0, _md.Run("pull", $"{_registry.Host}/a:a").ExitCode);
        var pullB = _md.Run("pull", $"{_registry.Host}/b:b");
        Assert.Contains($"{_base.Digest[7..19]}: Already exists", pullB.Stdout);
        Assert.Equal(3, StoredLayers().Length);
        Assert.Equal(1, _registry.BlobGets(_base.Digest));

        Assert.Equal(0, _md.Run("rmi", $"{_registry.Host}/a:a").ExitCode);
        Assert.Equal(2, StoredLayers().Length);
        Assert.Equal("2", _md.Run("run", "--rm", "--net", "none", $"{_registry.Host}/b:b", "cat", "/two.txt").Stdout);
        Assert.Equal(0, _md.Run("rmi", $"{_registry.Host}/b:b").ExitCode);
        Assert.Empty(StoredLayers());
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_md.Root, "images", "l")));
    }

    [Fact]
    public void A_tampered_blob_is_refused_with_a_clear_error_and_nothing_half_made_is_left()
    {
        var (reference, layers) = PushLayered("tampered");
        // The attacker (a compromised registry or mirror) swaps the content of a layer the manifest names.
        var file = _registry.BlobFile(layers[1].Digest);
        var bytes = File.ReadAllBytes(file);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(file, bytes);

        var pull = _md.Run("pull", reference);
        Assert.Equal(1, pull.ExitCode); // Docker's CLI: a failed pull exits 1
        Assert.Contains($"blob {layers[1].Digest}: digest mismatch", pull.Stderr);
        Assert.Single(pull.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain(layers[1].DiffId[7..], StoredLayers());
        Assert.False(Directory.Exists(Path.Combine(_md.Root, "images", "blobs")), "a blob file was kept"); // layers stream into extraction
        Assert.DoesNotContain("tampered", _md.Run("images").Stdout);
        Assert.Empty(Directory.GetDirectories(Path.Combine(_md.Root, "images", "layers"), ".tmp-*"));
    }

    [Fact]
    public void Concurrent_pulls_of_one_image_fetch_each_blob_once()
    {
        var (reference, layers) = PushLayered("concurrent");
        var pulls = Enumerable.Range(0, 3).Select(_ => _md.Start(false, "pull", reference)).ToList();
        foreach (var p in pulls)
        {
            p.StandardOutput.ReadToEnd();
            var err = p.StandardError.ReadToEnd();
            Assert.True(p.WaitForExit(120_000));
            Assert.True(p.ExitCode == 0, err);
            p.Dispose();
        }
        foreach (var layer in layers)
            Assert.Equal(1, _registry.BlobGets(layer.Digest));
        Assert.Equal(3, StoredLayers().Length);
    }

    [Fact]
    public void Run_of_a_missing_image_pulls_it_first()
    {
        var (reference, _) = PushLayered("missing");
        var run = _md.Run("run", "--rm", "--net", "none", reference, "cat", "/data/keep.txt");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("kept from layer 2", run.Stdout);
        Assert.Contains($"Unable to find image '{reference}' locally", run.Stderr);
        Assert.Contains("Pull complete", run.Stderr);
    }

    [Theory]
    [InlineData("traversal")]
    [InlineData("symlink")]
    public void A_layer_escaping_its_directory_is_refused_and_nothing_is_written_outside(string attack)
    {
        var victim = Path.Combine(Path.GetTempPath(), "mdk-victim-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(victim);
        try
        {
            var tar = attack == "traversal"
                ? OciLayout.Tar(("../../../../../../.." + victim + "/owned", "pwned"))
                : OciLayout.Tar(("escape", "-> " + victim), ("escape/owned", "pwned"));
            _layout.Tag("evil", _layout.Image([_base, OciLayout.Layer(tar, "gzip")], OciLayout.HostArchitecture));
            _registry.Push(_layout, "evil", "evil");

            var pull = _md.Run("pull", $"{_registry.Host}/evil:evil");
            Assert.Equal(1, pull.ExitCode);
            Assert.Contains("refusing archive", pull.Stderr);
            Assert.Empty(Directory.GetFileSystemEntries(victim));
            Assert.DoesNotContain("evil", _md.Run("images").Stdout);
        }
        finally
        {
            Directory.Delete(victim, recursive: true);
        }
    }

    [Fact]
    public void A_multi_arch_index_resolves_to_this_machine_platform()
    {
        var amd64 = _layout.Image([_base, OciLayout.Layer(OciLayout.Tar(("arch.txt", "amd64")))], "amd64");
        var arm64 = _layout.Image([_base, OciLayout.Layer(OciLayout.Tar(("arch.txt", "arm64")), "zstd")], "arm64");
        _layout.Tag("multi", amd64, arm64);
        _registry.Push(_layout, "multi", "multi", all: true);

        var run = _md.Run("run", "--rm", "--net", "none", $"{_registry.Host}/multi:multi", "cat", "/arch.txt");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(OciLayout.HostArchitecture, run.Stdout);
    }

    [Fact]
    public void An_image_of_100_layers_runs_although_their_paths_exceed_a_page_of_mount_options()
    {
        // 100 absolute lower paths (about 60 bytes each) exceed the 4096 bytes mount(2) takes; relative short links fit.
        var layers = new List<TestLayer> { _base };
        for (var i = 1; i < 100; i++)
            layers.Add(OciLayout.Layer(OciLayout.Tar(("layers/", null), ($"layers/{i}", $"{i}"))));
        _layout.Tag("tall", _layout.Image(layers, OciLayout.HostArchitecture));
        _registry.Push(_layout, "tall", "tall");

        var run = _md.Run("run", "--rm", "--net", "none", $"{_registry.Host}/tall:tall", "sh", "-c", "ls /layers | wc -l; cat /layers/99");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("99\n99", run.Stdout.Trim().Replace(" ", ""));
    }

    [Fact]
    public void A_registry_outside_allowed_registries_is_never_contacted()
    {
        var run = _md.Run("run", "--rm", "--net", "none", "busybox", "true");
        Assert.Equal(125, run.ExitCode);
        Assert.Contains("not in allowed-registries", run.Stderr);
        Assert.DoesNotContain("Unable to find", run.Stderr);
    }
}
