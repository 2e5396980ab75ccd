# Homebrew formula for kubectl-oidc, written by `npm run release` (scripts/release.mjs): do not edit by hand.
# Install: brew install --formula ./kubectl-oidc.rb (or from a tap that carries this file).
class KubectlOidc < Formula
  desc "OIDC login for kubectl: an exec credential plugin and a per-user token agent"
  homepage "https://github.com/kubectl-oidc/kubectl-oidc"
  version "0.1.0"
  license "Apache-2.0"

  on_macos do
    on_arm do
      url "https://github.com/kubectl-oidc/kubectl-oidc/releases/download/v0.1.0/kubectl-oidc_0.1.0_darwin_arm64.tar.gz"
      sha256 "f8bda1f543d14808ca585ca79e2dde13fc8a44885c9448bb89767f24417eaab4"
    end
    on_intel do
      url "https://github.com/kubectl-oidc/kubectl-oidc/releases/download/v0.1.0/kubectl-oidc_0.1.0_darwin_amd64.tar.gz"
      sha256 "4983394fe7586e0f1bcaaa2ca2ee9b09d256c5183951f707f5a8575060fc8e6a"
    end
  end

  on_linux do
    on_arm do
      url "https://github.com/kubectl-oidc/kubectl-oidc/releases/download/v0.1.0/kubectl-oidc_0.1.0_linux_arm64.tar.gz"
      sha256 "bad209639bdbc49798aad841c4610baee3455d90ba6e2c9a96c05f64ee5f8a4d"
    end
    on_intel do
      url "https://github.com/kubectl-oidc/kubectl-oidc/releases/download/v0.1.0/kubectl-oidc_0.1.0_linux_amd64.tar.gz"
      sha256 "cd2ddc535f8327eea33eed786be15cbd9ec808c341571e75df500280a03f1822"
    end
  end

  def install
    libexec.install "kubectl-oidc", "keyring.node"
    bin.install_symlink libexec/"kubectl-oidc"
    doc.install "README.md", "THIRD-PARTY-NOTICES.md"
  end

  def caveats
    <<~EOS
      Add a kubeconfig user with `kubectl oidc setup`; its exec command is kubectl-oidc.
      `kubectl oidc agent install` starts the token agent at login.
    EOS
  end

  test do
    assert_equal "kubectl-oidc #{version}\n", shell_output("#{bin}/kubectl-oidc --version")
  end
end
