using System.Diagnostics;
using System.Text.Json.Nodes;

namespace MiniDocker.IntegrationTests;

/// <summary>
/// Interrupted pulls, through a <see cref="CountingProxy"/> on loopback in front of a docker-registry that counts blob
/// GETs: a pull killed mid-download leaves nothing a later pull or `image prune` trips on, and the later pull fetches
/// only the layer that was in flight; a connection cut mid-blob is resumed with a Range request, the digest checked
/// over the whole blob.
/// </summary>
public sealed class PullResumeTests : IDisposable
{
    private readonly MiniDocker _md = new(importBusybox: false);
    private readonly LocalRegistry _registry = new();
    private readonly OciLayout _layout = new();
    private readonly CountingProxy _proxy;
    private readonly TestLayer[] _layers;
    private readonly string _reference;

    public PullResumeTests()
    {
        _proxy = new CountingProxy(_registry);
        // The big layer first: three download at once, so the others (busybox and three small ones) all finish while
        // it is held up.
        _layers =
        [
            PullProgressTests.RandomLayer("big", 6 << 20),
            OciLayout.Layer(File.ReadAllBytes(MiniDocker.BusyboxTar), "gzip"),
            OciLayout.Layer(OciLayout.Tar(("small/", null), ("small/one", "1"))),
            OciLayout.Layer(OciLayout.Tar(("small/", null), ("small/two", "2")), "zstd"),
            OciLayout.Layer(OciLayout.Tar(("small/", null), ("small/three", "3")), "gzip"),
        ];
        _layout.Tag("1", _layout.Image(_layers, OciLayout.HostArchitecture, new JsonObject { ["Cmd"] = new JsonArray("true") }));
        _registry.Push(_layout, "resume", "1");
        _reference = $"{_proxy.Host}/resume:1";
    }

    public void Dispose()
    {
        _proxy.Dispose();
        _md.Dispose();
        _registry.Dispose();
        _layout.Dispose();
    }

    private string LayersDir => Path.Combine(_md.Root, "images", "layers");

    private int PlacedLayers() => Directory.Exists(LayersDir) ? Directory.GetFiles(LayersDir, "layer.json", SearchOption.AllDirectories).Length : 0;

    private static void WaitFor(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(60))
                throw new TimeoutException("waited a minute for " + what);
            Thread.Sleep(50);
        }
    }

    [Fact]
    public void A_pull_killed_mid_download_is_finished_by_the_next_which_fetches_only_the_layer_in_flight()
    {
        _proxy.SlowBlob = _layers[0].Digest;
        _proxy.After = 2 << 20;
        _proxy.Stall = true;
        using (var pull = _md.Start(false, "pull", _reference))
        {
            WaitFor(() => _proxy.SentOfSlowBlob >= 2 << 20 && PlacedLayers() == 4, "the small layers placed and the big one half sent");
            pull.Kill();
            Assert.True(pull.WaitForExit(10_000));
        }
        // The half-extracted layer is there, in a temp directory of a dead process; the image is not.
        Assert.Single(Directory.GetDirectories(LayersDir, ".tmp-*"));
        Assert.DoesNotContain("resume", _md.Run("images").Stdout);

        _proxy.SlowBlob = null;
        var pull2 = _md.Run("pull", _reference);
        Assert.True(pull2.ExitCode == 0, pull2.ToString());
        Assert.Equal(2, _proxy.BlobGets(_layers[0].Digest));
        foreach (var small in _layers[1..])
            Assert.True(_proxy.BlobGets(small.Digest) == 1, $"{small.Digest} fetched {_proxy.BlobGets(small.Digest)} times");
        Assert.Empty(Directory.GetDirectories(LayersDir, ".tmp-*"));
        var run = _md.Run("run", "--rm", "--net", "none", _reference, "sh", "-c", "wc -c < /data/big; cat /small/one /small/two /small/three");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal($"{6 << 20}\n123", run.Stdout.Trim());
    }

    [Fact]
    public void After_a_killed_pull_image_prune_removes_every_leftover_and_a_pull_starts_clean()
    {
        _proxy.SlowBlob = _layers[0].Digest;
        _proxy.After = 1 << 20;
        _proxy.Stall = true;
        using (var pull = _md.Start(false, "pull", _reference))
        {
            WaitFor(() => _proxy.SentOfSlowBlob >= 1 << 20 && PlacedLayers() == 4, "the small layers placed and the big one part sent");
            pull.Kill();
            Assert.True(pull.WaitForExit(10_000));
        }
        var prune = _md.Run("image", "prune", "-a", "-f");
        Assert.True(prune.ExitCode == 0, prune.ToString());
        // Layers no image names, the dead pull's temp directory, their short links and lock files: all gone.
        Assert.Equal(0, PlacedLayers());
        Assert.DoesNotContain(Directory.GetFileSystemEntries(LayersDir).Select(Path.GetFileName), n => n is not (".locks" or ".gc.lock"));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(LayersDir, ".locks")));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_md.Root, "images", "l")));

        _proxy.SlowBlob = null;
        var pull2 = _md.Run("pull", _reference);
        Assert.True(pull2.ExitCode == 0, pull2.ToString());
        Assert.Equal("1", _md.Run("run", "--rm", "--net", "none", _reference, "cat", "/small/one").Stdout);
    }

    [Fact]
    public void A_connection_cut_mid_blob_is_resumed_with_a_range_request_and_the_whole_blob_verified()
    {
        const long cut = 3 << 20;
        _proxy.SlowBlob = _layers[0].Digest;
        _proxy.After = cut;
        _proxy.Stall = false;
        var pull = _md.Run("pull", _reference);
        Assert.True(pull.ExitCode == 0, pull.ToString());
        var big = _proxy.Requests.Where(r => r.Method == "GET" && r.Path.EndsWith(_layers[0].Digest, StringComparison.Ordinal)).ToList();
        Assert.Equal(2, big.Count);
        Assert.Null(big[0].Range);
        // From the byte reached: at most where the cut was (a reset can drop bytes still in flight), never from 0.
        var from = long.Parse(System.Text.RegularExpressions.Regex.Match(big[1].Range ?? "", @"^bytes=(\d+)-$").Groups[1].Value);
        Assert.InRange(from, 1, cut);
        Assert.Equal($"{6 << 20}", _md.Run("run", "--rm", "--net", "none", _reference, "sh", "-c", "wc -c < /data/big").Stdout.Trim());
    }
}
