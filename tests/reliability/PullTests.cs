using System.Text.Json.Nodes;
using FailPoint = MiniDocker.Linux.FailPoint;

namespace MiniDocker.IntegrationTests.Reliability;

/// <summary>
/// `pull` from a docker-registry on 127.0.0.1 (no other registry is ever contacted): killed at each of its named steps
/// (twice), after which the next pull succeeds and removing the image leaves no partial download, orphan layer, stray
/// lock or temp directory, and every state file parses; and 8 pulls of one image at once each succeed while every
/// layer is downloaded once (GETs counted in the registry's access log).
/// </summary>
public sealed class PullTests : IDisposable
{
    private readonly Rig _rig = new(importBusybox: false);
    private readonly LocalRegistry _registry = new();
    private readonly OciLayout _layout = new();
    private readonly TestLayer[] _layers;
    private readonly string _reference;

    private const int Killed = 128 + 9;

    public PullTests()
    {
        // The busybox layer (gzip, about 1 MB) is large enough to be cut part-way; two small layers on top.
        _layers =
        [
            OciLayout.Layer(File.ReadAllBytes(MiniDocker.BusyboxTar), "gzip"),
            OciLayout.Layer(OciLayout.Tar(("data/", null), ("data/one.txt", "one"))),
            OciLayout.Layer(OciLayout.Tar(("data/two.txt", "two")), "zstd"),
        ];
        _layout.Tag("1", _layout.Image(_layers, OciLayout.HostArchitecture, new JsonObject { ["Cmd"] = new JsonArray("true") }));
        _registry.Push(_layout, "rel", "1");
        _reference = $"{_registry.Host}/rel:1";
    }

    public void Dispose()
    {
        _rig.Dispose();
        _registry.Dispose();
        _layout.Dispose();
    }

    public static TheoryData<string> Steps()
    {
        var data = new TheoryData<string>();
        foreach (var (_, step) in FailPoint.CrashSteps.Where(s => s.Verb == "pull")) data.Add(step);
        return data;
    }

    [Theory]
    [MemberData(nameof(Steps))]
    public void Killed_at_a_pull_step_then_the_next_pull_works_and_removal_leaves_nothing(string step)
    {
        for (int round = 0; round < 2; round++)
        {
            var killed = _rig.Crash(FailPoint.CrashPrefix + step, "pull", _reference);
            Assert.True(killed.ExitCode == Killed, $"not killed at {step}: {killed}");
            Report.Count("faults: kills at named steps");
            Report.Count("faults: pull kills");
            _rig.AssertStateParses();

            _rig.Ok("pull", _reference);
            Assert.Equal("onetwo", _rig.Ok("run", "--rm", "--net", "none", _reference, "cat", "/data/one.txt", "/data/two.txt"));
            _rig.AssertStateParses();
            Assert.Empty(StateFiles.Temps(_rig.Root));

            // Round 0 removes the image by name, round 1 by prune: both must leave the layer store empty.
            if (round == 0) _rig.Ok("rmi", _reference);
            else _rig.Ok("image", "prune", "-a", "-f");
            _rig.Ok("system", "prune", "-f");
            _rig.Ok("image", "prune", "-a", "-f");
            Assert.DoesNotContain("rel", _rig.Ok("images"));
            AssertImageStoreEmpty();
            _rig.AssertStateParses();
            _rig.CleanAndAssertNoLeaks();
        }
    }

    /// <summary>No layer, link, partial download, temp or trash directory, or per-layer lock file left.</summary>
    private void AssertImageStoreEmpty()
    {
        string images = Path.Combine(_rig.Root, "images");
        if (!Directory.Exists(images)) return;
        // What outlives every image: the store's directories, its two lock files and its index files.
        static bool Kept(string p) => p is "layers" or "l" or "blobs" or "layers/.locks" or ".lock" or "layers/.gc.lock"
                                     || (!p.Contains('/') && p.EndsWith(".json", StringComparison.Ordinal));
        var left = Directory.EnumerateFileSystemEntries(images, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(images, p)).Where(p => !Kept(p)).ToList();
        Assert.True(left.Count == 0, "left in the image store: " + string.Join(", ", left));
    }

    [Fact]
    public void Eight_concurrent_pulls_of_one_image_all_succeed_and_fetch_each_layer_once()
    {
        const int pulls = 8;
        var results = new Result[pulls];
        var threads = Enumerable.Range(0, pulls).Select(i => new Thread(() => results[i] = _rig.Run("pull", _reference))).ToList();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Report.Figure("concurrency: 8 pulls of one 3-layer image at once", $"{clock.Elapsed.TotalSeconds:F1} s");
        Report.Count("concurrency: concurrent pulls", pulls);
        foreach (var r in results) Assert.True(r.ExitCode == 0, r.ToString());
        foreach (var layer in _layers)
            Assert.True(_registry.BlobGets(layer.Digest) == 1, $"{layer.Digest} fetched {_registry.BlobGets(layer.Digest)} times");
        Assert.Single(_rig.Ok("images").Split('\n'), l => l.StartsWith(_registry.Host + "/rel ", StringComparison.Ordinal));
        _rig.Ok("run", "--rm", "--net", "none", _reference, "cat", "/data/two.txt");
        _rig.AssertStateParses();
        _rig.Ok("rmi", _reference);
        AssertImageStoreEmpty();
        _rig.CleanAndAssertNoLeaks();
    }
}
