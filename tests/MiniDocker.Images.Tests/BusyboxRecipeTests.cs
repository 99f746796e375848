using System.Security.Cryptography;

namespace MiniDocker.Images.Tests;

public sealed class BusyboxRecipeTests : IDisposable
{
    private readonly Sandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    private static string Script()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "rootfs", "build-busybox.sh");
            if (File.Exists(candidate))
                return candidate;
        }
        throw new FileNotFoundException("rootfs/build-busybox.sh not found above " + AppContext.BaseDirectory);
    }

    // The recipe's work directories go to a TMPDIR of this test's own: another build of the image at the same time (a
    // setup.sh elsewhere) must not look like a leftover of ours.
    private string[] OwnTempDirs() => Directory.GetDirectories(_sandbox.Dir("tmp"), "mdk-busybox.*");

    private void Build(string output) => Run.Checked("env", $"TMPDIR={_sandbox.Dir("tmp")}", "bash", Script(), output);

    [Fact]
    public void RecipeIsReproducibleAndImportsIntoARunnableRootfs()
    {
        var tempDirsBefore = OwnTempDirs();
        Build(_sandbox["busybox-1.tar"]);
        Build(_sandbox["busybox-1.tar"]); // rerun over an existing output
        Build(_sandbox["busybox-2.tar"]);

        Assert.Equal(SHA256.HashData(File.ReadAllBytes(_sandbox["busybox-1.tar"])),
            SHA256.HashData(File.ReadAllBytes(_sandbox["busybox-2.tar"])));
        Assert.Equal(tempDirsBefore, OwnTempDirs());

        var store = new ImageStore(_sandbox.Dir("state"));
        var image = store.Import(_sandbox["busybox-1.tar"], "busybox", ["CMD [\"sh\"]"]);
        var rootfs = store.RootfsPath(image);

        Assert.Equal(["sh"], store.Resolve("busybox").Config.Cmd);
        Assert.Equal("regular file", FileStat.Of(Path.Combine(rootfs, "bin/busybox")).Type);
        Assert.Equal("busybox", new FileInfo(Path.Combine(rootfs, "bin/sh")).LinkTarget);
        Assert.Equal("busybox", new FileInfo(Path.Combine(rootfs, "bin/ls")).LinkTarget);
        Assert.Equal("1777", FileStat.Of(Path.Combine(rootfs, "tmp")).Mode);
        foreach (var dir in new[] { "dev", "proc", "sys", "etc", "root", "home", "var/www", "usr/bin", "usr/sbin", "sbin" })
            Assert.True(Directory.Exists(Path.Combine(rootfs, dir)), dir);
        Assert.Contains("root:x:0:0:", File.ReadAllText(Path.Combine(rootfs, "etc/passwd")));
        Assert.Contains("nobody:x:65534:", File.ReadAllText(Path.Combine(rootfs, "etc/group")));
        var owner = FileStat.Of(Path.Combine(rootfs, "bin/busybox"));
        Assert.Equal((0u, 0u, "755"), (owner.Uid, owner.Gid, owner.Mode));

        // The static busybox runs with nothing from the host: the rootfs is self-sufficient.
        var output = Run.Checked("chroot", rootfs, "/bin/sh", "-c", "echo hello from $(basename $(readlink /bin/sh))");
        Assert.Equal("hello from busybox\n", output);
    }

    [Fact]
    public void RecipeWithoutOutputArgumentPrintsUsage()
    {
        var (exit, _, stderr) = Run.Capture("bash", Script());

        Assert.Equal(2, exit);
        Assert.Contains("usage:", stderr);
    }
}
