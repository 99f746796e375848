namespace MiniDocker.Images.Tests;

public sealed class SafeTarExtractorTests : IDisposable
{
    private readonly Sandbox _sandbox = new();
    private readonly string _target;
    private readonly string _outside;

    public SafeTarExtractorTests()
    {
        _target = _sandbox["target"];
        _outside = _sandbox.Dir("outside");
        File.WriteAllText(Path.Combine(_outside, "secret"), "host data");
    }

    public void Dispose() => _sandbox.Dispose();

    private ExtractResult Extract(byte[] tar) => SafeTarExtractor.Extract(new MemoryStream(tar), _target);

    private ImageException Refused(byte[] tar) => Assert.Throws<ImageException>(() => Extract(tar));

    private void AssertOutsideUntouched()
    {
        Assert.Equal(["secret"], Directory.GetFileSystemEntries(_outside).Select(Path.GetFileName));
        Assert.Equal("host data", File.ReadAllText(Path.Combine(_outside, "secret")));
        Assert.Equal(1, FileStat.Of(Path.Combine(_outside, "secret")).Links);
        Assert.Equal(["outside", "target"], Directory.GetFileSystemEntries(_sandbox.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void DotDotTraversalIsRefused()
    {
        var error = Refused(new TarBuilder().File("ok", "x").File("../outside/pwned", "evil").Build());

        Assert.Equal("refusing archive: entry '../outside/pwned' contains a '..' path component", error.Message);
        AssertOutsideUntouched();
    }

    [Fact]
    public void DotDotInsideThePathIsRefusedToo()
    {
        var error = Refused(new TarBuilder().Directory("a/").File("a/../../outside/pwned", "evil").Build());

        Assert.Contains("contains a '..' path component", error.Message);
        AssertOutsideUntouched();
    }

    [Fact]
    public void AbsolutePathIsStrippedAndLandsInsideTheTarget()
    {
        var absolute = Path.Combine(_outside, "pwned");

        Extract(new TarBuilder().File(absolute, "inside after all").Build());

        Assert.False(File.Exists(absolute));
        Assert.Equal("inside after all", File.ReadAllText(_target + absolute));
        AssertOutsideUntouched();
    }

    [Fact]
    public void WritingThroughAnArchiveSymlinkIsRefused()
    {
        var error = Refused(new TarBuilder().Symlink("etc", _outside).File("etc/secret", "overwritten").Build());

        Assert.Equal("refusing archive: path 'etc/secret' leads through symlink 'etc' (extraction never follows symlinks)",
            error.Message);
        AssertOutsideUntouched();
    }

    [Fact]
    public void WritingThroughASymlinkChainIsRefused()
    {
        var tar = new TarBuilder()
            .Symlink("a", "b")
            .Symlink("b", "c/d")
            .Directory("c/")
            .Symlink("c/d", "../../outside")
            .File("a/pwned", "evil")
            .Build();

        var error = Refused(tar);

        Assert.Contains("leads through symlink 'a'", error.Message);
        AssertOutsideUntouched();
    }

    [Fact]
    public void DirectoryEntryThroughASymlinkIsRefused()
    {
        var error = Refused(new TarBuilder().Symlink("d", _outside).Directory("d/sub/").Build());

        Assert.Contains("leads through symlink 'd'", error.Message);
        AssertOutsideUntouched();
    }

    [Fact]
    public void FileEntryReplacesASymlinkInsteadOfWritingThroughIt()
    {
        var result = Extract(new TarBuilder()
            .Symlink("victim", Path.Combine(_outside, "secret"))
            .File("victim", "archive data")
            .Build());

        Assert.Equal("regular file", FileStat.Of(Path.Combine(_target, "victim")).Type);
        Assert.Equal("archive data", File.ReadAllText(Path.Combine(_target, "victim")));
        Assert.Equal(1, result.Files);
        AssertOutsideUntouched();
    }

    [Fact]
    public void SymlinksMayPointAnywhereButAreNotFollowed()
    {
        var result = Extract(new TarBuilder().Symlink("etc-link", "/etc").Symlink("up", "../../..").Build());

        Assert.Equal("/etc", new FileInfo(Path.Combine(_target, "etc-link")).LinkTarget);
        Assert.Equal("../../..", new FileInfo(Path.Combine(_target, "up")).LinkTarget);
        Assert.Equal(2, result.Symlinks);
    }

    [Fact]
    public void HardLinkToOutsideIsRefused()
    {
        var error = Refused(new TarBuilder().HardLink("stolen", "../outside/secret").Build());

        Assert.Equal("refusing archive: hard link 'stolen' points outside the root ('../outside/secret')", error.Message);
        AssertOutsideUntouched();
    }

    [Fact]
    public void AbsoluteHardLinkTargetIsResolvedInsideTheRoot()
    {
        var error = Refused(new TarBuilder().HardLink("stolen", Path.Combine(_outside, "secret")).Build());

        Assert.Equal($"hard link 'stolen': target '{Path.Combine(_outside, "secret")}' is not in the archive", error.Message);
        AssertOutsideUntouched();
    }

    [Fact]
    public void HardLinkThroughASymlinkIsRefused()
    {
        var error = Refused(new TarBuilder().Symlink("s", _outside).HardLink("stolen", "s/secret").Build());

        Assert.Contains("path 's/secret' leads through symlink 's'", error.Message);
        AssertOutsideUntouched();
    }

    [Fact]
    public void HardLinkInsideTheRootSharesTheInode()
    {
        var result = Extract(new TarBuilder().File("bin/tool", "#!/bin/sh\n", mode: 0x1ED).HardLink("bin/alias", "bin/tool").Build());

        var tool = FileStat.Of(Path.Combine(_target, "bin/tool"));
        Assert.Equal(tool.Inode, FileStat.Of(Path.Combine(_target, "bin/alias")).Inode);
        Assert.Equal(2, tool.Links);
        Assert.Equal(1, result.HardLinks);
    }

    [Fact]
    public void DeviceNodesAndFifosAreSkippedAndCounted()
    {
        var result = Extract(new TarBuilder()
            .Directory("dev/")
            .CharDevice("dev/null", 1, 3)
            .BlockDevice("dev/sda", 8, 0)
            .Fifo("run-fifo")
            .HardLink("dev/null-again", "dev/null")
            .File("keep", "normal")
            .Build());

        Assert.Equal(3, result.SkippedDeviceNodes);
        Assert.Equal(1, result.SkippedFifos);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_target, "dev")));
        Assert.False(Files.ExistsNoFollow(Path.Combine(_target, "run-fifo")));
        Assert.Equal("normal", File.ReadAllText(Path.Combine(_target, "keep")));
    }

    [Fact]
    public void SetuidAndSetgidBitsAreClearedOtherModeBitsKept()
    {
        var result = Extract(new TarBuilder()
            .File("usr/bin/su", "suid", mode: 0x9ED /* 04755 */)
            .Directory("shared/", mode: 0x5FD /* 02775 */)
            .Directory("tmp/", mode: 0x3FF /* 01777 */)
            .File("private", "x", mode: 0x180 /* 0600 */)
            .Build());

        Assert.Equal("755", FileStat.Of(Path.Combine(_target, "usr/bin/su")).Mode);
        Assert.Equal("775", FileStat.Of(Path.Combine(_target, "shared")).Mode);
        Assert.Equal("1777", FileStat.Of(Path.Combine(_target, "tmp")).Mode);
        Assert.Equal("600", FileStat.Of(Path.Combine(_target, "private")).Mode);
        Assert.Equal(2, result.ClearedSetIdBits);
    }

    [Fact]
    public void OwnershipAndModificationTimesAreApplied()
    {
        var fileTime = new DateTimeOffset(2001, 2, 3, 4, 5, 6, TimeSpan.Zero);
        var dirTime = new DateTimeOffset(1999, 12, 31, 23, 59, 59, TimeSpan.Zero);
        Extract(new TarBuilder()
            .Directory("home/user/", mode: 0x1C0, uid: 1000, gid: 1001, modified: dirTime)
            .File("home/user/notes", "hello", uid: 1234, gid: 5678, modified: fileTime)
            .Symlink("home/user/link", "notes", uid: 42, gid: 43)
            .Build());

        var file = FileStat.Of(Path.Combine(_target, "home/user/notes"));
        Assert.Equal((1234u, 5678u, fileTime.ToUnixTimeSeconds()), (file.Uid, file.Gid, file.Mtime));
        var link = FileStat.Of(Path.Combine(_target, "home/user/link"));
        Assert.Equal((42u, 43u, "symbolic link"), (link.Uid, link.Gid, link.Type));
        // The directory's mtime survives the creation of its children.
        var dir = FileStat.Of(Path.Combine(_target, "home/user"));
        Assert.Equal((1000u, 1001u, "700", dirTime.ToUnixTimeSeconds()), (dir.Uid, dir.Gid, dir.Mode, dir.Mtime));
    }

    [Fact]
    public void DirectoriesMayComeAfterTheirContentsOrBeImplied()
    {
        var result = Extract(new TarBuilder()
            .File("var/lib/state/file", "x")
            .Directory("var/lib/", mode: 0x1C0)
            .Build());

        Assert.Equal("x", File.ReadAllText(Path.Combine(_target, "var/lib/state/file")));
        Assert.Equal("700", FileStat.Of(Path.Combine(_target, "var/lib")).Mode);
        Assert.Equal("755", FileStat.Of(Path.Combine(_target, "var/lib/state")).Mode);
        Assert.Equal((1, 1), (result.Files, result.Directories));
    }

    [Fact]
    public void WhiteoutFilesAreSkipped()
    {
        var result = Extract(new TarBuilder().File("etc/.wh.removed", "").File("etc/.wh..wh..opq", "").File("etc/kept", "k").Build());

        Assert.Equal(2, result.SkippedWhiteouts);
        Assert.Equal(["kept"], Directory.GetFileSystemEntries(Path.Combine(_target, "etc")).Select(Path.GetFileName));
    }

    [Fact]
    public void LaterEntriesReplaceEarlierOnes()
    {
        Extract(new TarBuilder().File("f", "first").File("f", "second").Directory("d/").Symlink("d", "elsewhere").Build());

        Assert.Equal("second", File.ReadAllText(Path.Combine(_target, "f")));
        Assert.Equal("elsewhere", new FileInfo(Path.Combine(_target, "d")).LinkTarget);
    }

    [Fact]
    public void ReplacingANonEmptyDirectoryIsRefused()
    {
        var error = Refused(new TarBuilder().File("d/child", "x").File("d", "file now").Build());

        Assert.Equal("entry 'd' would replace a non-empty directory", error.Message);
    }

    [Fact]
    public void TruncatedArchiveIsRefused()
    {
        var whole = new TarBuilder().File("a", new string('a', 700)).Build();
        // Drop the zero blocks after the last entry: a clean entry boundary.
        var end = (whole.AsSpan().LastIndexOfAnyExcept((byte)0) / 512 + 1) * 512;
        var boundary = whole.AsSpan(0, end).ToArray();

        var error = Refused(boundary);

        Assert.Equal("the archive is truncated", error.Message);
    }

    [Fact]
    public void ArchiveCutInsideAFileIsRefused()
    {
        var whole = new TarBuilder().File("a", new string('a', 5000)).Build();

        var error = Refused(whole.AsSpan(0, 3000).ToArray());

        Assert.StartsWith("the archive is truncated", error.Message);
    }

    [Fact]
    public void GarbageIsNotATarArchive()
    {
        var error = Refused(System.Text.Encoding.ASCII.GetBytes(new string('x', 2048)));

        Assert.StartsWith("not a valid tar archive:", error.Message);
    }

    [Fact]
    public void EmptyStreamIsRefused()
    {
        Assert.Equal("the archive is empty", Refused([]).Message);
    }

    [Fact]
    public void TargetMustBeEmpty()
    {
        Directory.CreateDirectory(_target);
        File.WriteAllText(Path.Combine(_target, "existing"), "x");

        var error = Refused(new TarBuilder().File("a", "b").Build());

        Assert.Equal($"extraction target '{_target}' is not empty", error.Message);
    }

    /// <summary>The offset of the header block of regular file <paramref name="name"/>.</summary>
    private static int HeaderOf(byte[] tar, string name)
    {
        var wanted = System.Text.Encoding.ASCII.GetBytes(name + "\0");
        for (var offset = 0; offset + 512 <= tar.Length; offset += 512)
        {
            if (tar.AsSpan(offset).StartsWith(wanted) && tar[offset + 156] == (byte)'0')
                return offset;
        }
        throw new InvalidOperationException($"no header for {name}");
    }

    [Fact]
    public void ZeroedHeaderChecksumIsDamageNotTheEndOfTheArchive()
    {
        var tar = new TarBuilder().File("a", "1").File("b", "2").File("c", "3").Build();
        var b = HeaderOf(tar, "b");
        tar.AsSpan(b + 148, 8).Clear();

        var error = Refused(tar);

        // System.Formats.Tar alone took this block for the end of the archive and extracted only 'a'.
        Assert.Equal($"the archive is damaged: bad header checksum at byte {b} (after entry 'a')", error.Message);
    }

    [Fact]
    public void HeaderThatDoesNotMatchItsChecksumIsRefused()
    {
        var tar = new TarBuilder().File("a", "1").File("b", "2").Build();
        var b = HeaderOf(tar, "b");
        tar[b + 100] ^= 0x02; // a mode bit flipped in transit: the header still parses

        var error = Refused(tar);

        Assert.Equal($"the archive is damaged: bad header checksum at byte {b} (after entry 'a')", error.Message);
    }

    [Fact]
    public void ChecksumSummedAsSignedBytesByOldTarsIsAccepted()
    {
        var tar = new TarBuilder().File("a", "1").Build();
        var a = HeaderOf(tar, "a");
        // A name byte above 0x7f makes the signed and unsigned sums differ; store the signed one.
        tar[a + 1] = 0xE9;
        tar[a + 2] = 0;
        long signedSum = 0;
        for (var i = 0; i < 512; i++)
            signedSum += i is >= 148 and < 156 ? ' ' : (sbyte)tar[a + i];
        System.Text.Encoding.ASCII.GetBytes(Convert.ToString(signedSum, 8).PadLeft(6, '0') + "\0 ").CopyTo(tar, a + 148);

        Assert.Equal(1, Extract(tar).Files);
    }

    [Fact]
    public void PathDeeperThanTheLimitIsRefusedWithAShortMessage()
    {
        var deep = string.Join('/', Enumerable.Repeat("a", 10_000));

        var error = Refused(new TarBuilder().File("ok", "x").Directory(deep).Build());

        Assert.Equal("refusing archive: entry 'a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/" +
                     ".../a/a/a/a/a/a/a/a/a/a/a/a (19999 bytes)' has 10000 path components (at most 256)", error.Message);
        Assert.Equal(["ok"], Directory.GetFileSystemEntries(_target).Select(Path.GetFileName));
    }

    [Fact]
    public void PathLongerThanPathMaxIsRefused()
    {
        var component = new string('l', 200);
        var tooLong = string.Join('/', Enumerable.Repeat(component, 21)); // 4220 bytes

        var error = Refused(new TarBuilder().File(tooLong, "x").Build());

        Assert.Matches(@"^refusing archive: entry 'l{64}\.\.\.l{24} \(4220 bytes\)' is 4220 bytes long \(at most 4095\)$", error.Message);
        Assert.False(Directory.Exists(Path.Combine(_target, component)));
    }

    [Fact]
    public void ComponentLongerThanNameMaxIsRefused()
    {
        var error = Refused(new TarBuilder().File("dir/" + new string('n', 256), "x").Build());

        Assert.StartsWith("refusing archive: entry 'dir/nnn", error.Message);
        Assert.EndsWith("has a component longer than 255 bytes ('" + new string('n', 64) + "..." + new string('n', 24) + " (256 bytes)')", error.Message);
    }

    [Fact]
    public void PathsAtTheLimitsAreExtracted()
    {
        var deepest = string.Join('/', Enumerable.Repeat("d", 255)) + "/f";
        var longest = string.Join('/', Enumerable.Repeat(new string('l', 255), 15)) + "/" + new string('e', 254); // 4095 bytes

        var result = Extract(new TarBuilder().File(deepest, "deep").File(longest, "long").Build());

        Assert.Equal(2, result.Files);
    }

    [Fact]
    public void PaxUidBeyondTheSignedRangeIsRefusedNotACrash()
    {
        var error = Refused(RawTar.FileWithPaxRecords("bin/x", "x", ("uid", "4294967294")));

        Assert.Equal("refusing archive: entry 'bin/x': uid 4294967294 is out of range (0-2147483647)", error.Message);
    }

    [Fact]
    public void NegativePaxGidIsRefused()
    {
        var error = Refused(RawTar.FileWithPaxRecords("x", "x", ("gid", "-5")));

        Assert.Equal("refusing archive: entry 'x': gid -5 is out of range (0-2147483647)", error.Message);
        Assert.False(File.Exists(Path.Combine(_target, "x")));
    }

    [Fact]
    public void ControlCharactersInAnEntryNameDoNotBreakTheMessageLine()
    {
        var error = Refused(new TarBuilder().File("evil\u001b[2Jname/../x", "x").Build());

        Assert.Equal("refusing archive: entry 'evil?[2Jname/../x' contains a '..' path component", error.Message);
    }
}
