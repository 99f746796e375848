namespace MiniDocker.IntegrationTests;

/// <summary>`commit`: a container's changes, deletions included, become a layer of a new image.</summary>
public sealed class ImageCommitTests : IDisposable
{
    private readonly MiniDocker _md = new();

    public void Dispose() => _md.Dispose();

    [Fact]
    public void A_file_added_and_one_deleted_are_there_and_gone_in_the_committed_image()
    {
        var name = "commit-" + Guid.NewGuid().ToString("N")[..8];
        var run = _md.Run("run", "--name", name, "--net", "none", "busybox", "sh", "-c",
            "echo added > /added.txt; rm /bin/ls; mkdir -p /data; echo lower > /data/old; true");
        Assert.True(run.ExitCode == 0, run.ToString());
        var commit = _md.Run("commit", "-m", "first", "-c", "ENV FROM_COMMIT=yes", name, "committed:1");
        Assert.True(commit.ExitCode == 0, commit.ToString());
        Assert.Matches("^sha256:[0-9a-f]{64}\n$", commit.Stdout);

        var check = _md.Run("run", "--rm", "--net", "none", "committed:1", "sh", "-c",
            "cat /added.txt; test -e /bin/ls && echo LS-STILL-THERE; echo $FROM_COMMIT; cat /data/old");
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Equal("added\nyes\nlower\n", check.Stdout);

        // A second generation on top: a directory replaced (opaque) and the earlier file deleted.
        var second = name + "-2";
        Assert.Equal(0, _md.Run("run", "--name", second, "--net", "none", "committed:1", "sh", "-c",
            "rm -rf /data; mkdir /data; echo new > /data/only; rm /added.txt").ExitCode);
        Assert.Equal(0, _md.Run("commit", second, "committed:2").ExitCode);
        var check2 = _md.Run("run", "--rm", "--net", "none", "committed:2", "sh", "-c", "ls /data; test -e /added.txt && echo ADDED-STILL-THERE; true");
        Assert.Equal("only\n", check2.Stdout);
        Assert.Contains("first", _md.Run("history", "committed:1").Stdout);

        Assert.Equal(0, _md.Run("rm", "-f", name, second).ExitCode);
    }

    [Fact]
    public void A_running_container_is_refused_in_one_line()
    {
        var name = "commit-run-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(0, _md.Run("run", "-d", "--name", name, "--net", "none", "busybox", "sleep", "60").ExitCode);
        try
        {
            var commit = _md.Run("commit", name, "nope:1");
            Assert.NotEqual(0, commit.ExitCode);
            Assert.Contains("is running", commit.Stderr);
            Assert.Single(commit.Stderr.Trim().Split('\n'));
        }
        finally
        {
            _md.Run("rm", "-f", name);
        }
    }
}

/// <summary>`export`: the merged filesystem of a stopped container, deletions applied, importable again.</summary>
public sealed class ContainerExportTests : IDisposable
{
    private readonly MiniDocker _md = new();
    private readonly string _work = Path.Combine(Path.GetTempPath(), "mdk-export-" + Guid.NewGuid().ToString("N")[..10]);

    public ContainerExportTests() => Directory.CreateDirectory(_work);

    public void Dispose()
    {
        _md.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public void Export_writes_the_merged_tree_without_deleted_files_and_it_imports_and_runs()
    {
        var name = "export-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(0, _md.Run("run", "--name", name, "--net", "none", "busybox", "sh", "-c",
            "echo added > /added.txt; rm /bin/ls").ExitCode);
        var file = Path.Combine(_work, "fs.tar");
        var export = _md.Run("export", name, "-o", file);
        Assert.True(export.ExitCode == 0, export.ToString());

        var psi = new System.Diagnostics.ProcessStartInfo("tar", ["-tf", file]) { RedirectStandardOutput = true };
        using var tar = System.Diagnostics.Process.Start(psi)!;
        var names = tar.StandardOutput.ReadToEnd().Split('\n');
        tar.WaitForExit();
        Assert.Contains("added.txt", names);
        Assert.Contains("bin/sh", names);
        Assert.DoesNotContain("bin/ls", names);
        Assert.DoesNotContain(names, n => n.Contains(".wh."));

        Assert.Equal(0, _md.Run("image", "import", file, "exported").ExitCode);
        Assert.Equal("added\n", _md.Run("run", "--rm", "--net", "none", "exported", "cat", "/added.txt").Stdout);
        _md.Run("rm", "-f", name);
    }
}
