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
      sha256 "175dff0c8510b2d1e7b500a52968633031b12edac0aab4921a01360b1216eb3c"
    end
    on_intel do
      url "https://github.com/kubectl-oidc/kubectl-oidc/releases/download/v0.1.0/kubectl-oidc_0.1.0_darwin_amd64.tar.gz"
      sha256 "a0e364fa052d8d85dc76f7b4307fbe1c0f74e7905412ff59158983dadca7ea4e"
    end
  end

  on_linux do
    on_arm do
      url "https://github.com/kubectl-oidc/kubectl-oidc/releases/download/v0.1.0/kubectl-oidc_0.1.0_linux_arm64.tar.gz"
      sha256 "b3df99996c8456fcfec0d36cb3d6c298539082da2a4331a0bb631dea2bd355e8"
    end
    on_intel do
      url "https://github.com/kubectl-oidc/kubectl-oidc/releases/download/v0.1.0/kubectl-oidc_0.1.0_linux_amd64.tar.gz"
      sha256 "325a3cb686b74a7e84b89831cef425dd16bc0464adcacd24a9615c0f62401926"
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
