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
    [InlineData("Upper", "invalid reference format: \"Upper\": the name must be lower-case letters and digits, separated by '.', '_', '-' or '/'")]
    [InlineData("app:-bad", "invalid reference format: \"app:-bad\": the tag must be 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "invalid reference format: \"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\": a 64-character hex name is reserved for image IDs")]
    [InlineData("sha256:zz", "invalid reference format: \"sha256:zz\": 'sha256:' begins an image ID (sha256:<hex digits>), it cannot name a repository")]
    [InlineData("sha256", "invalid reference format: \"sha256\": 'sha256:' begins an image ID (sha256:<hex digits>), it cannot name a repository")]
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

    [Theory]
    [InlineData("sha256:zz", "invalid reference format: \"sha256:zz\": an image ID is 'sha256:' and 1 to 64 lower-case hex digits")]
    [InlineData("Upper", "invalid reference format: \"Upper\": the name must be lower-case letters and digits, separated by '.', '_', '-' or '/'")]
    public void ResolvingAnInvalidReferenceSaysSo(string reference, string message)
    {
        _store.Import(Tarball("x", out _), "x", []);

        Assert.Equal(message, Assert.Throws<ImageException>(() => _store.Resolve(reference)).Message);
    }

    private const string ContainerId = "0123abcd4567ef0123abcd4567ef0123abcd4567ef0123abcd4567ef01234567";

    [Fact]
    public void RemovingTheLastNameOfAnImageAContainerUsesIsRefused()
    {
        _store.Import(Tarball("x", out var id), "busybox", []);
        ImageUser[] users = [new(id, ContainerId, Running: false)];

        var error = Assert.Throws<ImageException>(() => _store.Remove("busybox", force: false, users));

        Assert.Equal($"conflict: unable to remove repository reference \"busybox\" (must force) - container 0123abcd4567 " +
                     $"is using its referenced image {id[..12]}", error.Message);
        Assert.Equal(id, _store.Resolve("busybox").Id);
        Assert.Equal([id], LayerDirs());
    }

    [Fact]
    public void ATagOfAnImageInUseGoesWithoutForceWhileAnotherNamesIt()
    {
        var file = Tarball("x", out var id);
        _store.Import(file, "a", []);
        _store.Import(file, "b", []);

        var removed = _store.Remove("a", force: false, [new ImageUser(id, ContainerId, Running: true)]);

        Assert.Equal(["a:latest"], removed.Untagged);
        Assert.Null(removed.DeletedId);
        Assert.Equal(id, _store.Resolve("b").Id);
    }

    [Fact]
    public void RemovalByIdOfAnImageInUseFollowsDockersRules()
    {
        _store.Import(Tarball("x", out var id), "busybox", []);

        var stopped = Assert.Throws<ImageException>(() =>
            _store.Remove(id[..12], force: false, [new ImageUser(id, ContainerId, Running: false)]));
        var running = Assert.Throws<ImageException>(() =>
            _store.Remove(id[..12], force: true, [new ImageUser(id, ContainerId, Running: true)]));

        Assert.Equal($"conflict: unable to delete {id[..12]} (must be forced) - image is being used by stopped container 0123abcd4567",
            stopped.Message);
        Assert.Equal($"conflict: unable to delete {id[..12]} (cannot be forced) - image is being used by running container 0123abcd4567",
            running.Message);
        Assert.Equal(id, _store.Resolve("busybox").Id);
    }

    [Fact]
    public void ForcedRemovalKeepsTheContentUntilNoContainerUsesIt()
    {
        _store.Import(Tarball("x", out var id), "busybox", []);
        ImageUser[] users = [new(id, ContainerId, Running: true)];

        var removed = _store.Remove("busybox", force: true, users);

        Assert.Equal(["busybox:latest"], removed.Untagged);
        Assert.Equal((id, true), (removed.DeletedId, removed.ContentKept));
        Assert.Empty(_store.List());
        Assert.Equal($"image '{id[..12]}' not found", Assert.Throws<ImageException>(() => _store.Resolve(id[..12])).Message);
        Assert.Equal("x", File.ReadAllText(Path.Combine(ImagesDir, id, "rootfs/bin/hello")));

        Assert.Empty(_store.RemoveReleased(users));
        Assert.Equal([id], LayerDirs());

        Assert.Equal([id], _store.RemoveReleased([]));
        Assert.Empty(LayerDirs());
        Assert.Empty(_store.RemoveReleased([]));
    }

    [Fact]
    public void ReleasedContentImportedAgainIsKept()
    {
        var file = Tarball("x", out var id);
        _store.Import(file, "busybox", []);
        _store.Remove("busybox", force: true, [new ImageUser(id, ContainerId, Running: false)]);

        _store.Import(file, "again", []);

        Assert.Empty(_store.RemoveReleased([]));
        Assert.Equal(id, _store.Resolve("again").Id);
        Assert.Equal([id], LayerDirs());
    }

    [Fact]
    public void ALeftoverDeeperThanPathMaxIsSweptAndDoesNotBreakLaterCommands()
    {
        Directory.CreateDirectory(ImagesDir);
        // What a crashed import of a 10 000-component path left (PID 2^22 + 1 cannot be alive): deeper than
        // PATH_MAX, so no path-based call can reach its bottom. Made through descriptors, as the import did.
        Run.Checked("python3", "-c", """
            import os, sys
            fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
            for i in range(3000):
                os.mkdir("a", dir_fd=fd)
                fd = os.open("a", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(os.open("file", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
            """, Directory.CreateDirectory(Path.Combine(ImagesDir, ".tmp-4194305-deep")).FullName);

        _store.Import(Tarball("x", out var id), "x", []);

        Assert.False(Directory.Exists(Path.Combine(ImagesDir, ".tmp-4194305-deep")));
        Assert.Equal([id], LayerDirs());
        _store.Remove("x", force: false, users: []);
        Assert.Empty(LayerDirs());
    }

    [Fact]
    public void ATooDeepArchiveFailsInOneLineAndLeavesNothingBehind()
    {
        File.WriteAllBytes(_sandbox["deep.tar"],
            new TarBuilder().File("ok", "x").Directory(string.Join('/', Enumerable.Repeat("a", 10_000))).Build());

        var error = Assert.Throws<ImageException>(() => _store.Import(_sandbox["deep.tar"], "deep", []));

        Assert.StartsWith($"'{_sandbox["deep.tar"]}': refusing archive: entry 'a/a/a/", error.Message);
        Assert.EndsWith("has 10000 path components (at most 256)", error.Message);
        Assert.DoesNotContain(StoreEntries(), e => e!.StartsWith(".tmp", StringComparison.Ordinal));
        _store.Import(Tarball("x", out var id), "x", []);
        Assert.Equal([id], LayerDirs());
    }

    [Fact]
    public void AnImageWithPathsNearPathMaxIsSizedAndRemoved()
    {
        // 4095 bytes inside the rootfs: with the store's own prefix, more than PATH_MAX from the root.
        var longest = string.Join('/', Enumerable.Repeat(new string('l', 255), 15)) + "/" + new string('e', 254);
        File.WriteAllBytes(_sandbox["long.tar"], new TarBuilder().File(longest, "long").Build());

        var image = _store.Import(_sandbox["long.tar"], "long", []);

        Assert.True(image.Size > 16 * 4096, $"size {image.Size}");
        _store.Remove("long", force: false, users: []);
        Assert.Empty(LayerDirs());
    }

    [Fact]
    public void AFailedImportUndoesOnlyTheLayerItPlaced()
    {
        var stored = Tarball("stored", out var storedId);
        _store.Import(stored, "stored", []);
        var indexPath = Path.Combine(ImagesDir, "repositories.json");
        // The index cannot be replaced: every import fails after its layer is in place.
        File.Delete(indexPath);
        Directory.CreateDirectory(indexPath);

        Assert.Throws<ImageException>(() => _store.Import(Tarball("new", out _), "new", []));
        Assert.Throws<ImageException>(() => _store.Import(stored, "same-content", []));

        // The new layer went with its import; the one stored before, also named by the second import, stayed.
        Assert.Equal([storedId], LayerDirs().Where(d => d != "repositories.json"));
        Assert.DoesNotContain(StoreEntries(), e => e!.StartsWith(".tmp", StringComparison.Ordinal));
    }
}
