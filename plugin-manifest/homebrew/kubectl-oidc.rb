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
      sha256 "aab7cb3fddd885bb31a657c439fcf7586eb0b5031bb696b62329c65f52c24e25"
    end
    on_intel do
      url "https://github.com/kubectl-oidc/kubectl-oidc/releases/download/v0.1.0/kubectl-oidc_0.1.0_darwin_amd64.tar.gz"
      sha256 "6826c5ee5ba93383308aa93e20f8ea8ad67e6767b009c003d2a05cde7b8d7e87"
    end
  end

  on_linux do
    on_arm do
      url "https://github.com/kubectl-oidc/kubectl-oidc/releases/download/v0.1.0/kubectl-oidc_0.1.0_linux_arm64.tar.gz"
      sha256 "d6923f3a02930ece26181a1a16c2d02222eee446f56c7340da21752b289d4ff6"
    end
    on_intel do
      url "https://github.com/kubectl-oidc/kubectl-oidc/releases/download/v0.1.0/kubectl-oidc_0.1.0_linux_amd64.tar.gz"
      sha256 "11452685bd16ad1573ac9760905ede2099c550a6cb694b08a427573c296483d5"
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
