"""Face search: find a registered person's face in media she never had (with her consent).

Detection and embeddings use dlib with the model files of the face-recognition-models
package, loaded by path: the HOG detector, the 5-point landmark model and the 128-d ResNet
embedding. Templates (embeddings) are biometric data: stored encrypted, decrypted only in
memory, deleted for real on withdrawal.
"""
