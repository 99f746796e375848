using System.Diagnostics;

namespace MiniDocker.Linux.Tests;

public sealed class AtomicFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mdk-linux-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_write_replaces_the_file_whole_and_a_failed_one_leaves_no_temp_file_behind(bool fsyncDirectory)
    {
        string file = Path.Combine(_dir, "state.json");
        AtomicFile.Write(file, "{\"a\":1}"u8, fsyncDirectory);
        AtomicFile.Write(file, "{\"a\":2}"u8, fsyncDirectory);
        Assert.Equal("{\"a\":2}", File.ReadAllText(file));

        // The rename cannot replace a directory: the write fails after its temp file was made.
        string blocked = Path.Combine(_dir, "blocked");
        Directory.CreateDirectory(blocked);
        Assert.ThrowsAny<IOException>(() => AtomicFile.Write(blocked, "x"u8, fsyncDirectory));
        Assert.Equal(["blocked", "state.json"], Directory.EnumerateFileSystemEntries(_dir).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_file_gets_the_mode_asked_for_whatever_the_umask()
    {
        string secret = Path.Combine(_dir, "config.json");
        AtomicFile.Write(secret, "{}"u8, fsyncDirectory: false, mode: 0b110_000_000);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(secret));
    }

    [Fact]
    public void A_lock_excludes_a_second_holder_until_released_and_a_try_says_so_at_once()
    {
        string path = Path.Combine(_dir, ".lock");
        var first = FileLock.Acquire(path);
        Assert.Null(FileLock.TryAcquire(path));
        Assert.Null(FileLock.TryAcquire(path, shared: true));
        var waiter = new Thread(() => { using var second = FileLock.Acquire(path); });
        waiter.Start();
        Assert.False(waiter.Join(200));
        first.Dispose();
        Assert.True(waiter.Join(5000));
        using var again = FileLock.TryAcquire(path);
        Assert.NotNull(again);
    }

    [Fact]
    public void A_missing_directory_is_a_syscall_error_naming_the_call_the_path_and_the_errno()
    {
        File.WriteAllText(Path.Combine(_dir, "file"), "");
        var e = Assert.Throws<SyscallException>(() => AtomicFile.FsyncDirectory(Path.Combine(_dir, "missing")));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Equal("open", e.Call);
        Assert.Contains("missing", e.Message);
        Assert.Equal(ExitCodes.RuntimeError, e.ExitCode);
    }
}

public sealed class BoundedFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mdk-bounded-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_small_regular_file_is_read_and_a_missing_one_is_null()
    {
        string file = Path.Combine(_dir, "passwd");
        File.WriteAllText(file, "root:x:0:0::/root:/bin/sh\n");
        Assert.Equal("root:x:0:0::/root:/bin/sh\n", System.Text.Encoding.UTF8.GetString(BoundedFile.Read(file, 1024, "passwd")!));
        Assert.Null(BoundedFile.Read(Path.Combine(_dir, "nope"), 1024, "nope"));
    }

    [Fact]
    public void Dev_zero_a_fifo_a_directory_and_an_oversized_file_are_refused_without_hanging()
    {
        string link = Path.Combine(_dir, "zero");
        File.CreateSymbolicLink(link, "/dev/zero");
        Assert.Contains("not a regular file", Assert.Throws<MiniDockerException>(() => BoundedFile.Read(link, 1 << 20, "zero")).Message);

        string fifo = Path.Combine(_dir, "fifo");
        Process.Start("mkfifo", fifo).WaitForExit();
        Exception? fifoError = null;
        var reader = new Thread(() => fifoError = Record.Exception(() => BoundedFile.Read(fifo, 1 << 20, "fifo")));
        reader.Start();
        Assert.True(reader.Join(5000), "reading a FIFO hung");
        Assert.Contains("not a regular file", Assert.IsType<MiniDockerException>(fifoError).Message);

        Assert.Contains("is a directory", Assert.Throws<MiniDockerException>(() => BoundedFile.Read(_dir, 1024, "dir")).Message);

        string big = Path.Combine(_dir, "big");
        File.WriteAllBytes(big, new byte[5000]);
        Assert.Contains("larger than", Assert.Throws<MiniDockerException>(() => BoundedFile.Read(big, 4096, "big")).Message);
        Assert.Equal(5000, BoundedFile.Read(big, 5000, "big")!.Length);
    }
}
