using System.Diagnostics;
using System.Formats.Tar;
using System.Text;

namespace MiniDocker.IntegrationTests;

/// <summary>The image store's defects of issue 9: images in use, damaged and hostile archives, a full disk.</summary>
public sealed class ImageFoundationTests : IDisposable
{
    private readonly MiniDocker _md = new();
    private readonly string _scratch = Directory.CreateTempSubdirectory("mdk-itimg-").FullName;

    public void Dispose()
    {
        _md.Dispose();
        // rm -rf rather than Directory.Delete: a test may leave a tree deeper than PATH_MAX here.
        Process.Start("rm", ["-rf", "--one-file-system", _scratch])!.WaitForExit();
    }

    private string ImagesDir => Path.Combine(_md.Root, "images");

    private string[] TempEntries() =>
        Directory.GetFileSystemEntries(ImagesDir, ".tmp-*").Concat(Directory.GetFileSystemEntries(ImagesDir, ".trash-*")).ToArray();

    private string BusyboxId()
    {
        var shortId = _md.Run("images").Stdout.Split('\n').Single(l => l.StartsWith("busybox ")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[2];
        return Path.GetFileName(Directory.GetDirectories(ImagesDir, shortId + "*").Single());
    }

    private static void AssertOneLineError(Result r, int exitCode = 125)
    {
        Assert.True(r.ExitCode == exitCode, r.ToString());
        Assert.StartsWith("minidocker: ", r.Stderr);
        Assert.Equal(1, r.Stderr.Count(c => c == '\n'));
        Assert.True(r.Stderr.Length < 400, $"{r.Stderr.Length} bytes of error");
    }

    [Fact]
    public void Image_in_use_is_kept_and_forced_removal_keeps_its_content_until_the_container_goes()
    {
        var imageId = BusyboxId();
        var run = _md.Run("run", "-d", "--network", "none", "busybox", "sleep", "300");
        Assert.True(run.ExitCode == 0, run.ToString());
        var container = run.Stdout.Trim();

        var refused = _md.Run("image", "rm", "busybox");

        AssertOneLineError(refused);
        Assert.Equal($"minidocker: conflict: unable to remove repository reference \"busybox\" (must force) - " +
                     $"container {container[..12]} is using its referenced image {imageId[..12]}\n", refused.Stderr);
        Assert.Equal(0, _md.Run("exec", container, "ls", "/bin/sh").ExitCode);

        var forced = _md.Run("image", "rm", "-f", "busybox");

        Assert.Equal($"Untagged: busybox:latest\nDeleted: sha256:{imageId}\n", forced.Stdout);
        Assert.DoesNotContain("busybox", _md.Run("images").Stdout);
        // The content stays for the container: exec works, and so does a start after a stop.
        Assert.Equal("ok\n", _md.Run("exec", container, "echo", "ok").Stdout);
        Assert.Equal(0, _md.Run("stop", "-t", "1", container).ExitCode);
        var start = _md.Run("start", container);
        Assert.True(start.ExitCode == 0, start.ToString());
        Assert.Equal(0, _md.Run("exec", container, "true").ExitCode);
        Assert.True(File.Exists(Path.Combine(ImagesDir, imageId, "rootfs/bin/busybox")));

        Assert.Equal(0, _md.Run("rm", "-f", container).ExitCode);

        Assert.False(Directory.Exists(Path.Combine(ImagesDir, imageId)));
        Assert.Empty(TempEntries());
    }

    [Fact]
    public void Image_of_a_stopped_container_is_refused_by_id_without_force()
    {
        var imageId = BusyboxId();
        var run = _md.Run("run", "--network", "none", "--name", "done", "busybox", "true");
        Assert.True(run.ExitCode == 0, run.ToString());
        var container = _md.Run("ps", "-aq").Stdout.Trim();

        var refused = _md.Run("image", "rm", imageId[..12]);

        AssertOneLineError(refused);
        Assert.StartsWith($"minidocker: conflict: unable to delete {imageId[..12]} (must be forced) - " +
                          $"image is being used by stopped container {container[..12]}", refused.Stderr);
        Assert.Equal(0, _md.Run("image", "rm", "-f", imageId[..12]).ExitCode);
        Assert.True(Directory.Exists(Path.Combine(ImagesDir, imageId)));
        Assert.Equal(0, _md.Run("rm", "done").ExitCode);
        Assert.False(Directory.Exists(Path.Combine(ImagesDir, imageId)));
    }

    /// <summary>busybox.tar with one header's checksum field zeroed (GNU tar: "Skipping to next header", exit 2).</summary>
    [Fact]
    public void Corrupt_or_truncated_plain_tar_is_an_error_and_stores_nothing()
    {
        var bytes = File.ReadAllBytes(MiniDocker.BusyboxTar);
        // The tenth header: entries are walked by their size fields.
        var damaged = 0;
        for (var i = 0; i < 10; i++)
        {
            var size = Convert.ToInt64(Encoding.ASCII.GetString(bytes, damaged + 124, 12).Trim('\0', ' '), 8);
            damaged += 512 + (int)((size + 511) / 512 * 512);
        }
        var corrupt = Path.Combine(_scratch, "corrupt.tar");
        var copy = bytes.ToArray();
        copy.AsSpan(damaged + 148, 8).Clear();
        File.WriteAllBytes(corrupt, copy);
        var truncated = Path.Combine(_scratch, "truncated.tar");
        File.WriteAllBytes(truncated, bytes.AsSpan(0, bytes.Length / 2 / 512 * 512).ToArray());

        var r = _md.Run("image", "import", corrupt, "corrupt");
        var t = _md.Run("image", "import", truncated, "truncated");

        AssertOneLineError(r);
        Assert.Matches($"^minidocker: '{corrupt}': the archive is damaged: bad header checksum at byte {damaged} \\(after entry '[^']+'\\)\n$", r.Stderr);
        AssertOneLineError(t);
        Assert.StartsWith($"minidocker: '{truncated}': the archive is truncated", t.Stderr);
        Assert.DoesNotContain("corrupt", _md.Run("images").Stdout);
        Assert.Empty(TempEntries());
    }

    [Fact]
    public void Too_deep_path_is_refused_in_one_line_and_no_leftover_breaks_later_commands()
    {
        var deep = Path.Combine(_scratch, "deep.tar");
        using (var file = File.Create(deep))
        using (var writer = new TarWriter(file, TarEntryFormat.Pax))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, string.Join('/', Enumerable.Repeat("a", 10_000))));
        }
        // And what a crashed import of it left: a temp tree of a dead process (PID 2^22 + 1), deeper than PATH_MAX.
        var leftover = Directory.CreateDirectory(Path.Combine(ImagesDir, ".tmp-4194305-crashed")).FullName;
        var python = Process.Start("python3", ["-c", """
            import os, sys
            fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
            for i in range(3000):
                os.mkdir("a", dir_fd=fd)
                fd = os.open("a", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            """, leftover])!;
        python.WaitForExit();
        Assert.Equal(0, python.ExitCode);

        var r = _md.Run("image", "import", deep, "deep");

        AssertOneLineError(r);
        Assert.Matches($"^minidocker: '{deep}': refusing archive: entry 'a/a/a/.*/a/a \\(19999 bytes\\)' has 10000 path components \\(at most 256\\)\n$", r.Stderr);
        Assert.Equal(0, _md.Run("image", "import", MiniDocker.BusyboxTar, "other").ExitCode);
        Assert.Equal("Untagged: other:latest\n", _md.Run("image", "rm", "other").Stdout);
        Assert.Empty(TempEntries());
    }

    [Fact]
    public void Pax_uid_beyond_the_signed_range_is_refused_without_a_trace_or_a_leftover()
    {
        var tar = Path.Combine(_scratch, "uid.tar");
        File.WriteAllBytes(tar, PaxFile("bin/x", "uid", "4294967294"));

        var r = _md.Run("image", "import", tar, "uid");

        AssertOneLineError(r);
        Assert.Equal($"minidocker: '{tar}': refusing archive: entry 'bin/x': uid 4294967294 is out of range (0-2147483647)\n", r.Stderr);
        Assert.Empty(TempEntries());
    }

    [Fact]
    public void Full_disk_during_import_is_one_line_and_stores_nothing()
    {
        var md = new MiniDocker(importBusybox: false);
        Assert.Equal(0, Exec("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", md.Root));
        try
        {
            var images = Path.Combine(md.Root, "images");
            string[] Stored() => Directory.GetFileSystemEntries(images).Select(Path.GetFileName).OfType<string>()
                .Where(n => n is not (".lock" or "repositories.json")).Order().ToArray();

            // Out of space while extracting.
            var r = md.Run("image", "import", MiniDocker.BusyboxTar, "busybox");

            AssertOneLineError(r);
            Assert.EndsWith(": No space left on device\n", r.Stderr);
            Assert.Empty(Stored());

            // Out of space when the index is rewritten, after the layer was moved into place: the layer goes too.
            var first = md.Run("image", "import", SmallTar("one"), "one");
            Assert.True(first.ExitCode == 0, first.ToString());
            var stored = Stored();
            var free = new DriveInfo(md.Root).AvailableFreeSpace;
            // The layer takes two pages (the file and image.json), the index's new copy a third that is not there.
            Assert.Equal(0, Exec("fallocate", "-l", (free - 2 * Environment.SystemPageSize).ToString(), Path.Combine(md.Root, "fill")));

            var second = md.Run("image", "import", SmallTar("two"), "two");

            AssertOneLineError(second);
            Assert.Contains("No space left on device", second.Stderr);
            Assert.Equal(stored, Stored());
            var listed = md.Run("images").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(["REPOSITORY", "one"], listed.Select(l => l.Split(' ')[0]));
        }
        finally
        {
            Exec("umount", md.Root);
            md.Dispose();
        }
    }

    private static int Exec(string file, params string[] args)
    {
        using var p = Process.Start(file, args);
        p.WaitForExit();
        return p.ExitCode;
    }

    private string SmallTar(string content)
    {
        var path = Path.Combine(_scratch, content + ".tar");
        using var file = File.Create(path);
        using var writer = new TarWriter(file, TarEntryFormat.Ustar);
        writer.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, content)
        {
            DataStream = new MemoryStream(Encoding.ASCII.GetBytes(content)),
            Mode = (UnixFileMode)0x1A4,
        });
        return path;
    }

    [Fact]
    public void Sha256_is_no_repository_name()
    {
        var import = _md.Run("image", "import", MiniDocker.BusyboxTar, "sha256:zz");
        var run = _md.Run("run", "--rm", "--network", "none", "sha256:zz", "true");

        AssertOneLineError(import);
        Assert.StartsWith("minidocker: invalid reference format: \"sha256:zz\"", import.Stderr);
        AssertOneLineError(run);
        Assert.StartsWith("minidocker: invalid reference format: \"sha256:zz\"", run.Stderr);
        Assert.DoesNotContain("sha256", _md.Run("images").Stdout);
    }

    /// <summary>A one-file tar whose PAX header holds KEY=VALUE as given (System.Formats.Tar's writer drops a uid record).</summary>
    private static byte[] PaxFile(string name, string key, string value)
    {
        var body = $" {key}={value}\n";
        var length = body.Length + 1;
        while ($"{length}{body}".Length != length) length++;
        var records = Encoding.ASCII.GetBytes($"{length}{body}");
        var output = new MemoryStream();
        Append(output, Header($"PaxHeaders/{name}", 'x', records.Length), records);
        Append(output, Header(name, '0', 2), "hi"u8.ToArray());
        output.Write(new byte[1024]);
        return output.ToArray();
    }

    private static byte[] Header(string name, char type, long size)
    {
        var header = new byte[512];
        void Put(int offset, string text) => Encoding.ASCII.GetBytes(text).CopyTo(header, offset);
        Put(0, name);
        Put(100, "0000644\0");
        Put(108, "0000000\0");
        Put(116, "0000000\0");
        Put(124, Convert.ToString(size, 8).PadLeft(11, '0') + "\0");
        Put(136, "14000000000\0");
        header[156] = (byte)type;
        Put(257, "ustar\0");
        Put(263, "00");
        Put(148, "        ");
        Put(148, Convert.ToString(header.Sum(b => (long)b), 8).PadLeft(6, '0') + "\0 ");
        return header;
    }

    private static void Append(MemoryStream output, byte[] header, byte[] data)
    {
        output.Write(header);
        output.Write(data);
        output.Write(new byte[(512 - data.Length % 512) % 512]);
    }
}
