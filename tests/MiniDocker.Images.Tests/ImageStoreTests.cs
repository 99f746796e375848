using System.Security.Cryptography;
using System.Text.Json;

namespace MiniDocker.Images.Tests;

public sealed class ImageStoreTests : IDisposable
{
    private readonly Sandbox _sandbox = new();
    private readonly ImageStore _store;
    private int _tarCount;

    public ImageStoreTests() => _store = new ImageStore(_sandbox.Dir("state"));

    public void Dispose() => _sandbox.Dispose();

    private string ImagesDir => _sandbox["state/images"];

    /// <summary>Writes a small rootfs tarball whose content (and so ID) is set by <paramref name="marker"/>.</summary>
    private string Tarball(string marker, out string id)
    {
        var bytes = new TarBuilder().Directory("bin/").File("bin/hello", marker, mode: 0x1ED).Directory("tmp/", mode: 0x3FF).Build();
        id = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var path = _sandbox[$"rootfs-{_tarCount++}.tar"];
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private HashSet<string?> StoreEntries() => Directory.GetFileSystemEntries(ImagesDir).Select(Path.GetFileName).ToHashSet();

    private string[] LayerDirs() => Directory.GetDirectories(ImagesDir).Select(Path.GetFileName).OfType<string>()
        .Where(n => !n.StartsWith('.')).Order().ToArray();

    [Fact]
    public void ImportLaysOutTheStoreAndListShowsTheImage()
    {
        var file = Tarball("one", out var id);

        var image = _store.Import(file, "web:1.0", ["CMD [\"/bin/hello\"]", "EXPOSE 80"]);

        Assert.Equal((id, "web", "1.0"), (image.Id, image.Repository, image.Tag));
        Assert.Equal(id[..12], image.ShortId);
        Assert.Equal(Path.Combine(ImagesDir, id, "rootfs"), _store.RootfsPath(image));
        Assert.Equal("one", File.ReadAllText(Path.Combine(_store.RootfsPath(image), "bin/hello")));
        Assert.True(File.Exists(Path.Combine(ImagesDir, id, "image.json")));
        using (var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(ImagesDir, "repositories.json"))))
            Assert.Equal(id, index.RootElement.GetProperty("repositories").GetProperty("web:1.0").GetProperty("id").GetString());

        var listed = Assert.Single(_store.List());
        Assert.Equal((id, "web", "1.0", image.Created), (listed.Id, listed.Repository, listed.Tag, listed.Created));
        Assert.Equal(["/bin/hello"], listed.Config.Cmd);
        Assert.Equal(["80/tcp"], listed.Config.ExposedPorts);
        // Bytes on disk: at least one block for the file and each of the three directories.
        Assert.True(listed.Size >= 4 * 4096, $"size {listed.Size}");
        Assert.Equal([".lock", "repositories.json", id], StoreEntries());
    }

    [Fact]
    public void ExtractionReportSurvivesInTheStore()
    {
        File.WriteAllBytes(_sandbox["special.tar"], new TarBuilder()
            .CharDevice("dev/null", 1, 3).Fifo("dev/initctl").File("bin/su", "x", mode: 0x9ED).File("etc/.wh.gone", "")
            .Build());

        var image = _store.Import(_sandbox["special.tar"], "special", []);
        var report = _store.ExtractionOf(_store.Resolve("special"));

        Assert.Equal(new ExtractResult(Files: 1, Directories: 0, Symlinks: 0, HardLinks: 0, SkippedDeviceNodes: 1,
            SkippedFifos: 1, SkippedWhiteouts: 1, ClearedSetIdBits: 1), report);
        Assert.False(File.Exists(Path.Combine(_store.RootfsPath(image), "dev/null")));
    }

    [Fact]
    public void ResolveAcceptsNameTagAndIdPrefix()
    {
        var image = _store.Import(Tarball("one", out var id), "app", []);

        Assert.Equal("latest", image.Tag);
        Assert.Equal(id, _store.Resolve("app").Id);
        Assert.Equal(id, _store.Resolve("app:latest").Id);
        Assert.Equal(id, _store.Resolve(id[..12]).Id);
        Assert.Equal(id, _store.Resolve("sha256:" + id).Id);
        Assert.Equal("image 'app:2' not found", Assert.Throws<ImageException>(() => _store.Resolve("app:2")).Message);
        Assert.Equal("image 'other' not found", Assert.Throws<ImageException>(() => _store.Resolve("other")).Message);
    }

    [Fact]
    public void AmbiguousIdPrefixIsRefused()
    {
        // Import tarballs until two IDs share their first hex digit (at most 17 by pigeonhole).
        var firstDigits = new Dictionary<char, string>();
        for (var i = 0; ; i++)
        {
            var file = Tarball($"content {i}", out var id);
            _store.Import(file, $"img{i}", []);
            if (!firstDigits.TryAdd(id[0], id))
            {
                var error = Assert.Throws<ImageException>(() => _store.Resolve(id[..1]));
                Assert.Equal($"image ID prefix '{id[0]}' is ambiguous (2 images match)", error.Message);
                Assert.Equal(id, _store.Resolve(id).Id);
                return;
            }
        }
    }

    [Fact]
    public void SameContentUnderAnotherNameReusesTheLayerButKeepsItsOwnConfig()
    {
        var file = Tarball("shared", out var id);

        _store.Import(file, "first", ["CMD [\"sh\"]"]);
        _store.Import(file, "second:v2", ["CMD [\"sleep\", \"1\"]"]);

        Assert.Equal([id], LayerDirs());
        Assert.Equal(["sh"], _store.Resolve("first").Config.Cmd);
        Assert.Equal(["sleep", "1"], _store.Resolve("second:v2").Config.Cmd);
        Assert.Equal(2, _store.List().Count);
    }

    [Fact]
    public void RetaggingLeavesTheOldLayerAsAnUntaggedImage()
    {
        _store.Import(Tarball("v1", out var oldId), "app", []);
        _store.Import(Tarball("v2", out var newId), "app", []);

        Assert.Equal(newId, _store.Resolve("app").Id);
        var dangling = Assert.Single(_store.List(), r => r.Id == oldId);
        Assert.Equal(("<none>", "<none>"), (dangling.Repository, dangling.Tag));
        var removed = _store.Remove(oldId[..12], force: false, users: []);
        Assert.Equal((0, oldId), (removed.Untagged.Count, removed.DeletedId));
        Assert.Equal([newId], LayerDirs());
    }

    [Fact]
    public void RemoveByNameDeletesTheLayerOnlyWithItsLastTag()
    {
        var file = Tarball("x", out var id);
        _store.Import(file, "a", []);
        _store.Import(file, "b", []);

        var first = _store.Remove("a", force: false, users: []);
        Assert.Equal(["a:latest"], first.Untagged);
        Assert.Null(first.DeletedId);
        Assert.Equal([id], LayerDirs());

        var second = _store.Remove("b:latest", force: false, users: []);
        Assert.Equal(["b:latest"], second.Untagged);
        Assert.Equal(id, second.DeletedId);
        Assert.Empty(LayerDirs());
        Assert.Empty(_store.List());
        Assert.Equal("image 'b' not found", Assert.Throws<ImageException>(() => _store.Remove("b", force: false, users: [])).Message);
    }

    [Fact]
    public void RemoveByIdRefusesWhenSeveralTagsNameTheImage()
    {
        var file = Tarball("x", out var id);
        _store.Import(file, "a", []);
        _store.Import(file, "b", []);

        var error = Assert.Throws<ImageException>(() => _store.Remove(id[..12], force: false, users: []));

        Assert.Equal($"image {id[..12]} is referenced by several tags (a:latest, b:latest); remove them by name", error.Message);
        Assert.Equal(2, _store.List().Count);
    }

    [Fact]
    public void RemoveNeverFollowsSymlinksOutOfTheRootfs()
    {
        var hostDir = _sandbox.Dir("host-data");
        File.WriteAllText(Path.Combine(hostDir, "precious"), "keep me");
        var bytes = new TarBuilder().Symlink("data", hostDir).Symlink("file", Path.Combine(hostDir, "precious")).Build();
        File.WriteAllBytes(_sandbox["links.tar"], bytes);
        _store.Import(_sandbox["links.tar"], "links", []);

        _store.Remove("links", force: false, users: []);

        Assert.Empty(LayerDirs());
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(hostDir, "precious")));
    }

    [Fact]
    public void FailedImportLeavesNothingBehind()
    {
        _store.Import(Tarball("good", out var goodId), "good", []);
        var indexBefore = File.ReadAllText(Path.Combine(ImagesDir, "repositories.json"));
        // The symlink aims at a directory this test owns, never at the host's /etc: were the guard broken,
        // the damage must stay inside the sandbox.
        var hostDir = _sandbox.Dir("host-etc");
        File.WriteAllText(Path.Combine(hostDir, "passwd"), "original");
        // Extraction gets well under way (a file and a hostile symlink exist) before the archive is refused.
        File.WriteAllBytes(_sandbox["evil.tar"],
            new TarBuilder().File("bin/ok", "fine").Symlink("etc", hostDir).File("etc/passwd", "root::0:0::/:/bin/sh").Build());

        var error = Assert.Throws<ImageException>(() => _store.Import(_sandbox["evil.tar"], "evil", []));

        Assert.Contains("leads through symlink 'etc'", error.Message);
        Assert.Equal([".lock", "repositories.json", goodId], StoreEntries());
        Assert.Equal(indexBefore, File.ReadAllText(Path.Combine(ImagesDir, "repositories.json")));
        Assert.Equal("original", File.ReadAllText(Path.Combine(hostDir, "passwd")));
    }

    [Fact]
    public void LeftoversOfCrashedImportsAreSweptButLiveOnesKept()
    {
        Directory.CreateDirectory(ImagesDir);
        // PID 2^22 + 1 is above the kernel's pid_max ceiling, so it cannot be a live process.
        var dead = Directory.CreateDirectory(Path.Combine(ImagesDir, ".tmp-4194305-deadbeef")).FullName;
        File.WriteAllText(Path.Combine(dead, "partial"), "x");
        var live = Directory.CreateDirectory(Path.Combine(ImagesDir, $".tmp-{Environment.ProcessId}-inprogress")).FullName;
        var trash = Directory.CreateDirectory(Path.Combine(ImagesDir, ".trash-0123-old")).FullName;

        _store.Import(Tarball("x", out _), "x", []);

        Assert.False(Directory.Exists(dead));
        Assert.False(Directory.Exists(trash));
        Assert.True(Directory.Exists(live));
    }

    [Fact]
    public void ConcurrentImportsAllLandInTheIndex()
    {
        const int count = 6;
        var files = Enumerable.Range(0, count).Select(i => Tarball($"parallel {i}", out _)).ToArray();

        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = count },
            i => _store.Import(files[i], $"par{i}", []));

        Assert.Equal(Enumerable.Range(0, count).Select(i => $"par{i}").Order(),
            _store.List().Select(r => r.Repository).Order());
        Assert.Equal(count, LayerDirs().Length);
    }

    [Fact]
    public async Task ImportCommitsOnlyUnderTheStoreLock()
    {
        _store.Import(Tarball("first", out _), "first", []);
        var file = Tarball("second", out _);
        // Another process (flock(1)) holds images/.lock until we write a line to it.
        var info = new System.Diagnostics.ProcessStartInfo("flock")
        {
            ArgumentList = { Path.Combine(ImagesDir, ".lock"), "sh", "-c", "echo locked; read release" },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        };
        using var holder = System.Diagnostics.Process.Start(info)!;
        try
        {
            Assert.Equal("locked", await holder.StandardOutput.ReadLineAsync());

            var import = Task.Run(() => _store.Import(file, "second", []));
            await Task.Delay(1000);
            Assert.False(import.IsCompleted);
            Assert.DoesNotContain(_store.List(), r => r.Repository == "second");

            await holder.StandardInput.WriteLineAsync("go");
            await holder.StandardInput.FlushAsync();
            var image = await import.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(image.Id, _store.Resolve("second").Id);
        }
        finally
        {
            if (!holder.HasExited)
                holder.Kill();
        }
    }

    [Theory]
    [InlineData("Upper", "invalid image reference 'Upper': the name must be lower-case letters and digits, separated by '.', '_', '-' or '/'")]
    [InlineData("app:-bad", "invalid image reference 'app:-bad': the tag must be 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "invalid image reference '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef': a 64-character hex name is reserved for image IDs")]
    public void InvalidReferencesAreRefusedBeforeAnyWork(string reference, string message)
    {
        var error = Assert.Throws<ImageException>(() => _store.Import(Tarball("x", out _), reference, []));

        Assert.Equal(message, error.Message);
        Assert.False(Directory.Exists(ImagesDir));
    }

    [Fact]
    public void ImportOfAMissingFileSaysSo()
    {
        var missing = _sandbox["nope.tar"];

        var error = Assert.Throws<ImageException>(() => _store.Import(missing, "x", []));

        Assert.StartsWith($"cannot open '{missing}':", error.Message);
    }

    [Fact]
    public void ListOfAFreshStateRootIsEmpty()
    {
        Assert.Empty(new ImageStore(_sandbox["never-used"]).List());
    }
}
